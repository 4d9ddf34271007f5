//! The revocation endpoint (RFC 7009).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::client_auth;
use latchkey_core::token::revocation;

use crate::error::{ApiError, no_store};
use crate::extract::ClientRequest;
use crate::state::AppState;

/// Revokes one of the caller's tokens; 200 also for tokens that are unknown or invalid.
pub(crate) async fn revoke_token(
    State(app): State<AppState>,
    request: ClientRequest,
) -> Result<Response, ApiError> {
    let now = app.now();
    let caller = client_auth::authenticate(&app, &request.credentials, now).await?;
    revocation::revoke(&app, &caller, &request.params, now).await?;
    Ok(no_store(StatusCode::OK.into_response()))
}
