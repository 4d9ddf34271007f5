//! Answers for unknown paths and wrong methods, in JSON like everything else.

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// 404 for any path we do not serve.
pub(crate) async fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"error": "not_found", "error_description": "no such endpoint; see /.well-known/openid-configuration"}),
        ),
    )
}

/// 405 for a known path with the wrong method.
pub(crate) async fn method_not_allowed() -> (StatusCode, Json<Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(
            json!({"error": "invalid_request", "error_description": "this endpoint does not accept that HTTP method"}),
        ),
    )
}
