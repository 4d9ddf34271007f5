//! The token endpoint (RFC 6749 §3.2).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use latchkey_core::client_auth;
use latchkey_core::grant::{self, TokenRequest};

use crate::error::{ApiError, no_store};
use crate::extract::ClientRequest;
use crate::state::AppState;

/// Authenticates the client, runs its grant and answers with tokens.
pub(crate) async fn issue_token(
    State(app): State<AppState>,
    request: ClientRequest,
) -> Result<Response, ApiError> {
    let now = app.now();
    // Counted per presented client id, before authentication, so guessing a secret is
    // throttled like any other flood.
    if let Some(id) = request.credentials.client_id() {
        if let Err(wait) = app.limits.token.take(id) {
            crate::metrics::rate_limited("token_endpoint");
            return Err(OAuthError::RateLimited(wait.as_secs() + 1).into());
        }
    }
    let client = client_auth::authenticate(&app, &request.credentials, now).await?;
    let token_request = TokenRequest::parse(&request.params)?;
    let grant_type = token_request.grant_type();
    let outcome = grant::exchange(&app, &client, token_request, now).await;
    crate::metrics::token_request(grant_type, outcome.as_ref().err());
    Ok(no_store(Json(outcome?).into_response()))
}
