//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3). A request uses exactly one method, and it must be the client's
//! registered one.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use crate::client::{AuthMethod, Client};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::ClientId;
use crate::params::Params;
use crate::secret::ClientSecret;

/// The credentials a request carried, before they are checked.
#[derive(Debug)]
pub enum PresentedCredentials {
    /// `Authorization: Basic`.
    Basic {
        /// The decoded client id.
        id: String,
        /// The decoded secret.
        secret: ClientSecret,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        /// `client_id`.
        id: String,
        /// `client_secret`.
        secret: ClientSecret,
    },
    /// Only `client_id`: a public client.
    PublicId(String),
    /// Nothing.
    Absent,
}

impl PresentedCredentials {
    /// The client id presented, if any (what the token endpoint's rate limit counts).
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::PublicId(id) => Some(id),
            Self::Absent => None,
        }
    }

    /// Reads the credentials from the `Authorization` header value (if any) and the form.
    pub fn from_request(authorization: Option<&str>, params: &Params) -> Result<Self, OAuthError> {
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        if let Some(header) = authorization {
            let (id, secret) = parse_basic(header)?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated twice (Basic and client_secret); use exactly one method",
                ));
            }
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            return Ok(Self::Basic { id, secret });
        }
        Ok(match (body_id, body_secret) {
            (Some(id), Some(secret)) => Self::Post {
                id: id.to_owned(),
                secret: ClientSecret::presented(secret.to_owned()),
            },
            (Some(id), None) => Self::PublicId(id.to_owned()),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "client_secret was sent without client_id",
                ));
            }
            (None, None) => Self::Absent,
        })
    }

    fn method_and_id(&self) -> Option<(AuthMethod, &str)> {
        match self {
            Self::Basic { id, .. } => Some((AuthMethod::ClientSecretBasic, id)),
            Self::Post { id, .. } => Some((AuthMethod::ClientSecretPost, id)),
            Self::PublicId(id) => Some((AuthMethod::None, id)),
            Self::Absent => None,
        }
    }
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1, RFC 7617).
pub fn parse_basic(header: &str) -> Result<(String, ClientSecret), OAuthError> {
    let bad = |why: &'static str| OAuthError::invalid_client(why);
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad(
            "only Basic client authentication is accepted in the Authorization header",
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("the Basic credentials are not valid base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("the Basic credentials are not UTF-8"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| bad("the Basic credentials lack a ':'"))?;
    let form_decode = |text: &str| {
        percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .ok()
            .filter(|s| !s.contains('\0'))
            .map(|s| s.into_owned())
            .ok_or_else(|| bad("the Basic credentials are not valid form-encoded UTF-8"))
    };
    Ok((form_decode(id)?, ClientSecret::presented(form_decode(secret)?)))
}

/// Checks presented credentials against the registered client. Every failure is
/// `invalid_client`, and says why without revealing whether a secret was close.
pub async fn authenticate(
    context: &Context,
    presented: &PresentedCredentials,
    now: Timestamp,
) -> Result<Arc<Client>, OAuthError> {
    let Some((method, id)) = presented.method_and_id() else {
        return Err(OAuthError::invalid_client("client authentication is required"));
    };
    if id.is_empty() || id.len() > 255 {
        return Err(OAuthError::invalid_client("unknown client"));
    }
    let client = context
        .find_client(&ClientId::new(id), now)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if client.auth_method != method {
        return Err(OAuthError::invalid_client(format!(
            "this client is registered to authenticate with {}, not {method}",
            client.auth_method
        )));
    }
    match presented {
        PresentedCredentials::Basic { secret, .. } | PresentedCredentials::Post { secret, .. } => {
            let matches = client
                .secret_hash
                .as_ref()
                .is_some_and(|stored| stored.matches(&context.hasher.hash(secret)));
            if !matches {
                return Err(OAuthError::invalid_client("client authentication failed"));
            }
        }
        PresentedCredentials::PublicId(_) | PresentedCredentials::Absent => {}
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    fn params(list: &[(&str, &str)]) -> Params {
        Params::from_pairs(list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))).unwrap_or_default()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let (id, secret) = parse_basic(&basic("my%20client:s%3Acret+x")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, "my client");
        assert_eq!(secret.expose(), "s:cret x");
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        for header in [
            "Basic",
            "Basic !!!",
            "Bearer abc",
            &basic("no-colon"),
            "Basic /w==",
        ] {
            assert!(
                matches!(parse_basic(header), Err(OAuthError::InvalidClient(_))),
                "{header}"
            );
        }
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let both =
            PresentedCredentials::from_request(Some(&basic("a:b")), &params(&[("client_secret", "b")]));
        assert!(matches!(both, Err(OAuthError::InvalidRequest(_))));
        let mismatched =
            PresentedCredentials::from_request(Some(&basic("a:b")), &params(&[("client_id", "other")]));
        assert!(matches!(mismatched, Err(OAuthError::InvalidRequest(_))));
    }

    #[test]
    fn the_method_is_read_from_what_was_sent() {
        let post =
            PresentedCredentials::from_request(None, &params(&[("client_id", "a"), ("client_secret", "b")]));
        assert!(matches!(post, Ok(PresentedCredentials::Post { .. })));
        let public = PresentedCredentials::from_request(None, &params(&[("client_id", "a")]));
        assert!(matches!(public, Ok(PresentedCredentials::PublicId(_))));
        let none = PresentedCredentials::from_request(None, &params(&[]));
        assert!(matches!(none, Ok(PresentedCredentials::Absent)));
        let orphan = PresentedCredentials::from_request(None, &params(&[("client_secret", "b")]));
        assert!(matches!(orphan, Err(OAuthError::InvalidRequest(_))));
    }
}
