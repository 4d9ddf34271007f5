//! The `application/x-www-form-urlencoded` body of an OAuth request, parsed strictly:
//! a content type is required, the body is bounded, every name and value must decode to
//! UTF-8, and a repeated parameter is `invalid_request` (RFC 6749 §3.1, §3.2).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use latchkey_core::OAuthError;
use latchkey_core::params::Params;
use percent_encoding::percent_decode;

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

/// Parses a form body; see the module docs for the rules.
pub(crate) fn parse(body: &[u8]) -> Result<Params, OAuthError> {
    let decode = |raw: &[u8]| -> Result<String, OAuthError> {
        let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
        String::from_utf8(bytes).map_err(|_| OAuthError::invalid_request("the form is not valid UTF-8"))
    };
    let pairs = body
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = decode(halves.next().unwrap_or_default())?;
            let value = decode(halves.next().unwrap_or_default())?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, OAuthError>>()?;
    Params::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let params = parse(b"grant_type=client_credentials&scope=a+b%3Ac").unwrap_or_default();
        assert_eq!(params.get("scope"), Some("a b:c"));
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
    }

    #[test]
    fn refuses_invalid_utf8_raw_or_escaped() {
        assert!(parse(b"scope=%FF%FE").is_err());
        assert!(parse(b"scope=\xff").is_err());
        assert!(parse(b"%C3%28=x").is_err());
    }

    #[test]
    fn refuses_duplicates_and_tolerates_stray_ampersands() {
        assert!(parse(b"a=1&a=2").is_err());
        let params = parse(b"&&a=1&&b&").unwrap_or_default();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
    }
}
