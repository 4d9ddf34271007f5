//! The stylesheet and the passkey script, compiled into the binary.

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};

const STYLESHEET: &str = include_str!("../../assets/latchkey.css");
const PASSKEY_SCRIPT: &str = include_str!("../../assets/passkey.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `GET /assets/latchkey.css`.
pub(crate) async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// `GET /assets/passkey.js`: runs WebAuthn ceremonies for the passkey forms.
pub(crate) async fn passkey_script() -> Response {
    asset(PASSKEY_SCRIPT, "text/javascript; charset=utf-8")
}
