//! Errors: why a token was refused ([`TokenError`]), how a request is answered
//! ([`AuthError`], the one place that knows RFC 6750 §3's statuses and challenges), and why
//! setting up failed ([`DiscoveryError`]).

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an access token was refused. Every variant but [`TokenError::Unavailable`] is
/// answered `401 invalid_token`; the text (its `Display`) becomes the `error_description`,
/// so it names the rule that failed and never echoes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS of three base64url parts of JSON, too long, or a required claim
    /// missing or of the wrong type.
    #[error("the access token is malformed")]
    Malformed,
    /// The header's `alg` is not ES256 or RS256 (`none`, `HS256`, ... are never accepted).
    #[error("the access token is signed with an algorithm this API does not accept")]
    UnsupportedAlgorithm,
    /// The header's `typ` is not `at+jwt` (RFC 9068 §2.1), or it carries `crit`.
    #[error("the token is not an RFC 9068 access token (typ must be at+jwt)")]
    WrongType,
    /// No `kid`, or one the issuer's JWKS does not have, even after a refetch.
    #[error("the access token is signed by a key the issuer does not publish")]
    UnknownKey,
    /// The header's `alg` is not the named key's `alg`.
    #[error("the access token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("the access token's signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the access token was issued by another authorization server")]
    WrongIssuer,
    /// `aud` does not contain this API's identifier.
    #[error("the access token is not meant for this API (audience)")]
    WrongAudience,
    /// `exp` has passed, beyond the leeway.
    #[error("the access token has expired")]
    Expired,
    /// `nbf` is still ahead, beyond the leeway.
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Introspection answered `active: false`: revoked, expired or unknown (RFC 7662 §2.2).
    #[error("the access token is not active (revoked or expired)")]
    Inactive,
    /// The authorization server could not be asked (JWKS or introspection request failed).
    /// Answered `503`, since the token may well be good.
    #[error("the authorization server could not be reached to check the access token")]
    Unavailable,
}

/// What went wrong with a request, before or after its token was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No Bearer token was sent (RFC 6750 §3.1: the challenge then carries no error code).
    MissingToken,
    /// The request is malformed (two tokens, a token in the URL or body, a broken
    /// `Authorization` header): `400 invalid_request`.
    InvalidRequest(&'static str),
    /// The token was refused: `401 invalid_token` (or `503` for
    /// [`TokenError::Unavailable`]).
    InvalidToken(TokenError),
    /// The token is good but lacks this scope: `403 insufficient_scope`.
    InsufficientScope(Cow<'static, str>),
}

/// A refused request, ready to answer as RFC 6750 §3 says: status, `WWW-Authenticate`
/// challenge with the realm, and a JSON body `{"error", "error_description"}`.
///
/// It is the rejection of the [extractors](crate::extract) and what the
/// [layer](crate::RequireScopeLayer) answers with.
#[derive(Debug, Clone)]
pub struct AuthError {
    failure: AuthFailure,
    realm: Arc<str>,
}

impl AuthError {
    pub(crate) fn new(failure: AuthFailure, realm: &Arc<str>) -> Self {
        Self {
            failure,
            realm: Arc::clone(realm),
        }
    }

    /// What failed.
    pub fn failure(&self) -> &AuthFailure {
        &self.failure
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match &self.failure {
            AuthFailure::MissingToken => StatusCode::UNAUTHORIZED,
            AuthFailure::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthFailure::InvalidToken(TokenError::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            AuthFailure::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthFailure::InsufficientScope(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The RFC 6750 §3.1 error code and its description.
    fn code_and_description(&self) -> (&'static str, Cow<'static, str>) {
        match &self.failure {
            // RFC 6750 §3.1 puts no code in the challenge of a request without a token; the
            // body says invalid_token, as Latchkey's own UserInfo endpoint does.
            AuthFailure::MissingToken => ("invalid_token", "a Bearer access token is required".into()),
            AuthFailure::InvalidRequest(why) => ("invalid_request", Cow::Borrowed(*why)),
            AuthFailure::InvalidToken(TokenError::Unavailable) => (
                "temporarily_unavailable",
                TokenError::Unavailable.to_string().into(),
            ),
            AuthFailure::InvalidToken(error) => ("invalid_token", error.to_string().into()),
            AuthFailure::InsufficientScope(scope) => (
                "insufficient_scope",
                format!("the access token lacks the {scope} scope").into(),
            ),
        }
    }

    /// The `WWW-Authenticate` value, if this failure carries a challenge.
    fn challenge(&self, code: &str, description: &str) -> Option<String> {
        let realm = quoted(&self.realm);
        match &self.failure {
            AuthFailure::MissingToken => Some(format!("Bearer realm={realm}")),
            // Not the client's fault, and no credentials would help: no challenge.
            AuthFailure::InvalidToken(TokenError::Unavailable) => None,
            AuthFailure::InsufficientScope(scope) => Some(format!(
                "Bearer realm={realm}, error=\"{code}\", error_description={}, scope={}",
                quoted(description),
                quoted(scope)
            )),
            AuthFailure::InvalidRequest(_) | AuthFailure::InvalidToken(_) => Some(format!(
                "Bearer realm={realm}, error=\"{code}\", error_description={}",
                quoted(description)
            )),
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, description) = self.code_and_description();
        write!(f, "{code}: {description}")
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (code, description) = self.code_and_description();
        let challenge = self.challenge(code, &description);
        let body = Json(json!({"error": code, "error_description": description}));
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// An RFC 7230 quoted-string. Our own texts have no quotes; a configured realm might.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Why [`LatchkeyAuth::discover`](crate::LatchkeyAuth::discover) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A setting is unusable; the text says which.
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
    /// The request failed (connection, timeout, TLS).
    #[error("GET {url} failed")]
    Http {
        /// What was fetched.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The issuer answered with an error status.
    #[error("GET {url} answered {status}")]
    Status {
        /// What was fetched.
        url: String,
        /// The status.
        status: u16,
    },
    /// The document is not what the specification says it should be.
    #[error("{url}: {reason}")]
    Document {
        /// What was fetched.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The discovery document names another issuer (OpenID Connect Discovery §4.3 requires
    /// an exact match, or anyone who can serve the document could mint tokens).
    #[error("the discovery document says the issuer is {found:?}, not {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// Introspection was asked for, but the issuer advertises no `introspection_endpoint`.
    #[error("introspection was configured but the issuer advertises no introspection_endpoint")]
    NoIntrospectionEndpoint,
    /// The JWKS holds no ES256 or RS256 signing key this crate can use.
    #[error("the issuer's JWKS ({0}) has no usable ES256 or RS256 signing key")]
    NoUsableKeys(String),
}

/// Why a request to the authorization server failed after setup; logged, never shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Document { url: String, reason: String },
}

impl From<FetchError> for DiscoveryError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Http { url, source } => Self::Http { url, source },
            FetchError::Status { url, status } => Self::Status { url, status },
            FetchError::Document { url, reason } => Self::Document { url, reason },
        }
    }
}
