//! The metadata documents (RFC 8414, OpenID Connect Discovery 1.0).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use latchkey_core::discovery;

use crate::state::AppState;

fn cacheable(document: serde_json::Value) -> Response {
    let mut response = Json(document).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// `/.well-known/oauth-authorization-server`.
pub(crate) async fn show_oauth_metadata(State(app): State<AppState>) -> Response {
    cacheable(discovery::authorization_server_metadata(&app.config))
}

/// `/.well-known/openid-configuration`.
pub(crate) async fn show_openid_configuration(State(app): State<AppState>) -> Response {
    cacheable(discovery::openid_configuration(&app.config))
}
