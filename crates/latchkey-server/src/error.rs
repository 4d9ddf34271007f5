//! The one place that knows statuses: every error a handler returns becomes an RFC 6749
//! §5.2 JSON body here, with `Cache-Control: no-store`.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use serde::Serialize;

/// An error response.
#[derive(Debug)]
pub enum ApiError {
    /// An OAuth error from core.
    OAuth(OAuthError),
    /// The body exceeded the limit.
    PayloadTooLarge,
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        Self::OAuth(error)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::OAuth(error) => error,
            Self::PayloadTooLarge => {
                let body = ErrorBody {
                    error: "invalid_request",
                    error_description: "the request body is larger than 64 KiB",
                };
                return no_store((StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response());
            }
        };
        let status = match &error {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        tracing::debug!(
            code = error.code(),
            description = error.description(),
            "request refused"
        );
        let description = rfc6749_text(error.description());
        let body = ErrorBody {
            error: error.code(),
            error_description: &description,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match error {
            // RFC 6749 §5.2: a 401 names the scheme the client may use (RFC 9110 §11.6.1).
            OAuthError::InvalidClient(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="latchkey""#),
                );
            }
            OAuthError::Unavailable => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            OAuthError::RateLimited(seconds) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            _ => {}
        }
        no_store(response)
    }
}

/// Keeps only the characters RFC 6749 §5.2 allows in `error_description`
/// (%x20-21 / %x23-5B / %x5D-7E): quotes become apostrophes, anything else is dropped.
fn rfc6749_text(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '"' => Some('\''),
            ' '..='~' if c != '\\' => Some(c),
            _ => None,
        })
        .collect()
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::rfc6749_text;

    #[test]
    fn descriptions_keep_to_the_rfc_character_set() {
        assert_eq!(rfc6749_text("scope \"a\\b\" é\n\t!"), "scope 'ab' !");
    }
}
