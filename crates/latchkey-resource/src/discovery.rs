//! Talking to the authorization server: the discovery document (OpenID Connect Discovery
//! 1.0 §4), the JWKS it points to, and the introspection endpoint (RFC 7662 §2).

#[cfg(test)]
use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::{ACCEPT, AUTHORIZATION};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use url::form_urlencoded;

use crate::error::{DiscoveryError, FetchError};
use crate::introspection::IntrospectionResponse;
use crate::keys::{KeySet, parse_jwks};

/// Documents larger than this are refused: a JWKS or metadata document is a few KiB.
const MAX_DOCUMENT_LEN: usize = 1024 * 1024;

/// The endpoints this crate needs from the discovery document.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    issuer: String,
    pub(crate) jwks_uri: String,
    pub(crate) introspection_endpoint: Option<String>,
}

/// Fetches `{issuer}/.well-known/openid-configuration` and checks that it names `issuer`.
pub(crate) async fn fetch_metadata(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<Metadata, DiscoveryError> {
    // OpenID Connect Discovery §4: a terminating "/" is removed before appending the path.
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get(client, &url).await?;
    let metadata: Metadata = serde_json::from_slice(&body).map_err(|e| DiscoveryError::Document {
        url: url.clone(),
        reason: format!("not a discovery document: {e}"),
    })?;
    // §4.3: the issuer in the document must be exactly the one we asked.
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, FetchError> {
    let response = client
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|source| FetchError::Http {
            url: url.to_owned(),
            source,
        })?;
    read_json_body(url, response).await
}

async fn read_json_body(url: &str, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|source| FetchError::Http {
        url: url.to_owned(),
        source,
    })? {
        if body.len() + chunk.len() > MAX_DOCUMENT_LEN {
            return Err(FetchError::Document {
                url: url.to_owned(),
                reason: "larger than 1 MiB".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The issuer's JWK Set, handed over in process instead of fetched: for a service that
/// embeds the issuer (Latchkey's own admin API verifies its operators' tokens this way).
pub trait JwksProvider: Send + Sync + 'static {
    /// The current JWK Set as JSON (RFC 7517 §5), or why it is not available.
    fn jwks(&self) -> Result<Vec<u8>, String>;
}

/// A [`JwksProvider`] behind an `Arc`, debuggable.
#[derive(Clone)]
pub(crate) struct LocalSource(pub(crate) std::sync::Arc<dyn JwksProvider>);

impl std::fmt::Debug for LocalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSource")
    }
}

/// Where keys and introspection answers come from: the issuer over HTTP, a provider in
/// the same process, or in unit tests a fake that counts its calls.
#[derive(Debug)]
pub(crate) enum Source {
    Http(HttpSource),
    Local(LocalSource),
    #[cfg(test)]
    Fake(Arc<crate::fixtures::FakeIssuer>),
}

impl Source {
    /// Fetches and parses the JWKS.
    pub(crate) async fn fetch_jwks(&self) -> Result<KeySet, FetchError> {
        match self {
            Self::Http(http) => {
                let body = get(&http.client, &http.jwks_uri).await?;
                parse_jwks(&body).map_err(|reason| FetchError::Document {
                    url: http.jwks_uri.clone(),
                    reason,
                })
            }
            Self::Local(local) => {
                let body = local.0.jwks().map_err(|reason| FetchError::Document {
                    url: "in-process JWKS".into(),
                    reason,
                })?;
                parse_jwks(&body).map_err(|reason| FetchError::Document {
                    url: "in-process JWKS".into(),
                    reason,
                })
            }
            #[cfg(test)]
            Self::Fake(fake) => fake.fetch_jwks(),
        }
    }

    /// Asks the introspection endpoint about `token`.
    pub(crate) async fn introspect(&self, token: &str) -> Result<IntrospectionResponse, FetchError> {
        match self {
            Self::Http(http) => http.introspect(token).await,
            Self::Local(_) => Err(FetchError::Document {
                url: "in-process JWKS".into(),
                reason: "no introspection in process".into(),
            }),
            #[cfg(test)]
            Self::Fake(fake) => fake.introspect(token),
        }
    }
}

/// The issuer, over HTTP.
pub(crate) struct HttpSource {
    pub(crate) client: reqwest::Client,
    pub(crate) jwks_uri: String,
    pub(crate) introspection: Option<IntrospectionEndpoint>,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("jwks_uri", &self.jwks_uri)
            .field("introspection", &self.introspection.as_ref().map(|i| &i.url))
            .finish_non_exhaustive()
    }
}

/// The introspection endpoint and this API's credentials for it.
pub(crate) struct IntrospectionEndpoint {
    pub(crate) url: String,
    /// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
    authorization: HeaderValue,
}

impl IntrospectionEndpoint {
    /// RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined and
    /// base64-encoded.
    pub(crate) fn new(url: String, client_id: &str, client_secret: &str) -> Result<Self, DiscoveryError> {
        let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", encode(client_id), encode(client_secret));
        let mut authorization = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
            .map_err(|_| DiscoveryError::InvalidSetting("the introspection credentials"))?;
        authorization.set_sensitive(true);
        Ok(Self { url, authorization })
    }
}

impl HttpSource {
    async fn introspect(&self, token: &str) -> Result<IntrospectionResponse, FetchError> {
        let Some(endpoint) = &self.introspection else {
            return Err(FetchError::Document {
                url: self.jwks_uri.clone(),
                reason: "introspection is not configured".into(),
            });
        };
        let url = endpoint.url.as_str();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let response = self
            .client
            .post(url)
            .header(AUTHORIZATION, endpoint.authorization.clone())
            .header(ACCEPT, "application/json")
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|source| FetchError::Http {
                url: url.to_owned(),
                source,
            })?;
        let body = read_json_body(url, response).await?;
        serde_json::from_slice(&body).map_err(|e| FetchError::Document {
            url: url.to_owned(),
            reason: format!("not an introspection response: {e}"),
        })
    }
}
