//! The introspection endpoint (RFC 7662).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use latchkey_core::client_auth;
use latchkey_core::token::introspection;

use crate::error::{ApiError, no_store};
use crate::extract::ClientRequest;
use crate::state::AppState;

/// Tells an authenticated client whether a token is active and what it carries.
pub(crate) async fn introspect_token(
    State(app): State<AppState>,
    request: ClientRequest,
) -> Result<Response, ApiError> {
    let now = app.now();
    let caller = client_auth::authenticate(&app, &request.credentials, now).await?;
    let response = introspection::introspect(&app, &caller, &request.params, now).await?;
    Ok(no_store(Json(response).into_response()))
}
