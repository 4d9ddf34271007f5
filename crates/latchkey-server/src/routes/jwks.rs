//! The JWK Set (RFC 7517 §5): public keys that are next, active or retired.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Serves the published keys with a cache lifetime shorter than the pre-publication period,
/// so a verifier always has a key before it signs anything.
pub(crate) async fn show_jwks(State(app): State<AppState>) -> Response {
    let jwks = app.keys.jwks(app.now());
    let mut response = Json(jwks).into_response();
    let cache = format!("public, max-age={}", app.config.jwks_max_age.as_secs());
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}
