//! The errors a client may be told about, and the storage errors they come from.
//!
//! `OAuthError` names RFC error codes; the server crate maps it to a status and a JSON body
//! in exactly one place. Descriptions are for developers and never carry a secret.

use std::borrow::Cow;

/// A human-readable `error_description`.
pub type Description = Cow<'static, str>;

/// Errors a client may be told about (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(Description),
    /// Client authentication failed. Always 401 with a `WWW-Authenticate` challenge.
    #[error("invalid_client: {0}")]
    InvalidClient(Description),
    /// The grant (code, refresh token, device code) is invalid, expired or revoked.
    #[error("invalid_grant: {0}")]
    InvalidGrant(Description),
    /// The client is not registered for this grant type, or may not do this.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(Description),
    /// The grant type is not one this server implements.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(Description),
    /// The requested scope is invalid, unknown or exceeds what the client may have.
    #[error("invalid_scope: {0}")]
    InvalidScope(Description),
    /// The resource owner said no (RFC 6749 §4.1.2.1).
    #[error("access_denied: {0}")]
    AccessDenied(Description),
    /// The `response_type` is not supported (RFC 6749 §4.1.2.1).
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(Description),
    /// `prompt=none` but the user must log in (OpenID Connect Core §3.1.2.6).
    #[error("login_required: {0}")]
    LoginRequired(Description),
    /// `prompt=none` but the user must consent (OpenID Connect Core §3.1.2.6).
    #[error("consent_required: {0}")]
    ConsentRequired(Description),
    /// RFC 8628 §3.5: the user has not acted yet; keep polling.
    #[error("authorization_pending")]
    AuthorizationPending,
    /// RFC 8628 §3.5: polling too fast; the interval grows by 5 seconds.
    #[error("slow_down")]
    SlowDown,
    /// RFC 8628 §3.5: the device code expired; start over.
    #[error("expired_token")]
    ExpiredToken,
    /// An abuse limit refused the request: 429 with `Retry-After` (seconds).
    #[error("temporarily_unavailable: rate limited")]
    RateLimited(u64),
    /// The storage is unreachable: 503, try again.
    #[error("temporarily_unavailable")]
    Unavailable,
    /// Our fault: logged with its source where it is mapped, shown only as `server_error`.
    #[error("server_error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl OAuthError {
    /// The RFC error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied(_) => "access_denied",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Unavailable | Self::RateLimited(_) => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// The `error_description` shown to the client.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::AccessDenied(d)
            | Self::UnsupportedResponseType(d)
            | Self::LoginRequired(d)
            | Self::ConsentRequired(d) => d,
            Self::AuthorizationPending => "the user has not yet approved or denied the request; keep polling",
            Self::SlowDown => "polling too fast: wait 5 seconds longer between requests from now on",
            Self::ExpiredToken => "the device code has expired; start again",
            Self::Unavailable => "the service is temporarily unavailable; try again shortly",
            Self::RateLimited(_) => "too many requests for this client; retry after the Retry-After delay",
            Self::Internal(_) => "something went wrong on our side",
        }
    }

    /// Shorthand for an `invalid_request` with a fixed or formatted description.
    pub fn invalid_request(description: impl Into<Description>) -> Self {
        Self::InvalidRequest(description.into())
    }

    /// Shorthand for an `invalid_client`.
    pub fn invalid_client(description: impl Into<Description>) -> Self {
        Self::InvalidClient(description.into())
    }

    /// Wraps an internal failure.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(source))
    }
}

/// Errors from a store implementation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; carries the constraint's name.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The database cannot be reached (pool timeout, connection refused).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back into a domain type.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Anything else the database said.
    #[error("database error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::Unavailable
            }
            other => Self::internal(other),
        }
    }
}
