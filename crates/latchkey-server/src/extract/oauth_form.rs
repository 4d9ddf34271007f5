//! The `application/x-www-form-urlencoded` body of an OAuth request, parsed strictly:
//! a content type is required, the body is bounded, every name and value must decode to
//! UTF-8, and a repeated parameter is `invalid_request` (RFC 6749 §3.1, §3.2).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use latchkey_core::OAuthError;
use latchkey_core::params::Params;

use crate::error::ApiError;

/// The parsed form.
#[derive(Debug)]
pub(crate) struct OAuthForm(pub(crate) Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(
                OAuthError::invalid_request("the body must be application/x-www-form-urlencoded").into(),
            );
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                OAuthError::invalid_request("the request body could not be read").into()
            }
        })?;
        Ok(Self(parse(&body)?))
    }
}

/// Parses a form body or query string (core's [`Params::from_form`]).
pub(crate) fn parse(body: &[u8]) -> Result<Params, OAuthError> {
    Params::from_form(body)
}
