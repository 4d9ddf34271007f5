//! The token endpoint's grants (RFC 6749 §4, §6). The form is parsed once into a
//! [`TokenRequest`] and dispatched; each grant type lives in its own file.

mod authorization_code;
mod client_credentials;
mod device_code;
pub(crate) mod issue;
mod refresh_token;

use serde::Serialize;

use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::params::Params;
use crate::scope::ScopeSet;

/// A parsed token request.
#[derive(Debug)]
pub enum TokenRequest {
    /// `grant_type=client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials {
        /// The requested scope, if any.
        scope: Option<ScopeSet>,
    },
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code.
        code: String,
        /// The redirect URI, required if the authorization request had one.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<String>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
    DeviceCode {
        /// The device code.
        device_code: String,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope, if asked for.
        scope: Option<ScopeSet>,
    },
}

impl TokenRequest {
    /// Parses the form of a token request.
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let grant_type = params.require("grant_type")?;
        let Ok(grant) = grant_type.parse::<GrantType>() else {
            return Err(OAuthError::UnsupportedGrantType(
                "this grant_type is not supported; see grant_types_supported in the discovery document"
                    .into(),
            ));
        };
        match grant {
            GrantType::ClientCredentials => Ok(Self::ClientCredentials {
                scope: parse_scope(params)?,
            }),
            GrantType::AuthorizationCode => Ok(Self::AuthorizationCode {
                code: params.require("code")?.to_owned(),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(str::to_owned),
            }),
            GrantType::DeviceCode => Ok(Self::DeviceCode {
                device_code: params.require("device_code")?.to_owned(),
            }),
            GrantType::RefreshToken => Ok(Self::RefreshToken {
                refresh_token: params.require("refresh_token")?.to_owned(),
                scope: parse_scope(params)?,
            }),
            other => Err(OAuthError::UnsupportedGrantType(
                format!("grant_type {other} is not supported by this server yet").into(),
            )),
        }
    }

    /// The grant type the request uses.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

fn parse_scope(params: &Params) -> Result<Option<ScopeSet>, OAuthError> {
    params
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| {
            OAuthError::InvalidScope(
                "scope must be space-separated tokens of printable ASCII without quotes or backslashes (RFC 6749 section 3.3)".into(),
            )
        })
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scope; always sent, so clients need not guess.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A refresh token, for clients registered for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Runs the grant for an authenticated client.
pub async fn exchange(
    context: &Context,
    client: &Client,
    request: TokenRequest,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let grant = request.grant_type();
    if !client.allows(grant) {
        return Err(OAuthError::UnauthorizedClient(
            format!("this client is not registered for the {grant} grant").into(),
        ));
    }
    match request {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::exchange(context, client, scope.as_ref(), now).await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            authorization_code::exchange(
                context,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                now,
            )
            .await
        }
        TokenRequest::DeviceCode { device_code } => {
            device_code::exchange(context, client, &device_code, now).await
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            refresh_token::exchange(context, client, &refresh_token, scope.as_ref(), now).await
        }
    }
}
