//! Finding the Bearer token in a request (RFC 6750 §2).
//!
//! Only the `Authorization` header is accepted (§2.1). §2.2 (form body) and §2.3 (URI
//! query) are refused with `invalid_request`: URLs end up in logs, histories and `Referer`
//! headers, and a body token makes every form handler a token sink. A request may carry one
//! token by one method (§2), so duplicates are `invalid_request` too.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Uri};
use url::form_urlencoded;

use crate::error::AuthFailure;

/// The token of the request's `Authorization: Bearer` header.
pub(crate) fn bearer_token<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, AuthFailure> {
    let in_query = uri.query().is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
    });
    if in_query {
        return Err(AuthFailure::InvalidRequest(
            "access tokens in the URL are refused; send it in the Authorization header",
        ));
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            AuthFailure::InvalidRequest("the request has more than one Authorization header")
        } else if is_form(headers) {
            // Without reading the body we cannot tell whether it holds `access_token`; the
            // request fails either way, and this answer tells the client where a token goes.
            AuthFailure::InvalidRequest(
                "no Authorization header; access tokens in form bodies are refused, send it in the Authorization header",
            )
        } else {
            AuthFailure::MissingToken
        });
    };
    let malformed = AuthFailure::InvalidRequest("the Authorization header is malformed");
    let value = value.to_str().map_err(|_| malformed.clone())?;
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.is_empty() || !scheme.bytes().all(is_tchar) {
        return Err(malformed);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, DPoP, ...): no Bearer credentials, so challenge for them.
        return Err(AuthFailure::MissingToken);
    }
    let token = credentials.trim_matches(' ');
    if token.is_empty() {
        return Err(AuthFailure::InvalidRequest(
            "the Authorization header names the Bearer scheme but carries no token",
        ));
    }
    if token.contains([' ', ',']) {
        return Err(AuthFailure::InvalidRequest(
            "the Authorization header carries more than one token",
        ));
    }
    if !is_b64token(token) {
        return Err(AuthFailure::InvalidRequest(
            "the Bearer token has characters RFC 6750 does not allow",
        ));
    }
    Ok(token)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// RFC 7230 §3.2.6 `tchar`, the characters of an auth-scheme.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn token_of(authorization: &[&str], uri: &str) -> Result<String, AuthFailure> {
        let mut headers = HeaderMap::new();
        for value in authorization {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        let uri: Uri = uri.parse().unwrap();
        bearer_token(&headers, &uri).map(str::to_owned)
    }

    fn is_invalid_request(result: &Result<String, AuthFailure>) -> bool {
        matches!(result, Err(AuthFailure::InvalidRequest(_)))
    }

    #[test]
    fn a_bearer_header_yields_its_token_whatever_the_scheme_case() {
        assert_eq!(token_of(&["Bearer abc.def-_~+/="], "/").unwrap(), "abc.def-_~+/=");
        assert_eq!(token_of(&["bearer abc"], "/").unwrap(), "abc");
        assert_eq!(token_of(&["BEARER  abc"], "/").unwrap(), "abc");
    }

    #[test]
    fn no_header_or_another_scheme_means_no_token() {
        assert_eq!(token_of(&[], "/notes"), Err(AuthFailure::MissingToken));
        assert_eq!(
            token_of(&["Basic dXNlcjpwYXNz"], "/"),
            Err(AuthFailure::MissingToken)
        );
    }

    #[test]
    fn malformed_headers_are_invalid_requests() {
        assert!(is_invalid_request(&token_of(&["Bearer a", "Bearer b"], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer a b"], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer a,Bearer b"], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer"], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer    "], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer a\"b"], "/")));
        assert!(is_invalid_request(&token_of(&["Bearer ==="], "/")));
        assert!(is_invalid_request(&token_of(&["{junk} x"], "/")));
        assert!(is_invalid_request(&token_of(&["@@@"], "/")));
    }

    #[test]
    fn tokens_in_the_query_are_refused_even_next_to_a_header() {
        assert!(is_invalid_request(&token_of(&[], "/notes?access_token=abc")));
        assert!(is_invalid_request(&token_of(
            &[],
            "/notes?a=1&access%5Ftoken=abc"
        )));
        assert!(is_invalid_request(&token_of(
            &["Bearer abc"],
            "/notes?access_token=abc"
        )));
        assert_eq!(token_of(&["Bearer abc"], "/notes?token=1").unwrap(), "abc");
    }

    #[test]
    fn a_form_body_without_a_header_is_refused_as_a_body_token() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        let result = bearer_token(&headers, &Uri::from_static("/notes"));
        assert!(matches!(result, Err(AuthFailure::InvalidRequest(_))));
    }
}
