//! The UserInfo endpoint (OpenID Connect Core §5.3), GET and POST, with a Bearer token in
//! the header only (RFC 6750 §2.1): tokens in query strings leak into logs and are refused.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::userinfo::{UserinfoError, userinfo};
use serde_json::json;

use crate::error::no_store;
use crate::state::AppState;

fn bearer_error(status: StatusCode, code: &str, description: &str, scope: Option<&str>) -> Response {
    let mut challenge =
        format!(r#"Bearer realm="latchkey", error="{code}", error_description="{description}""#);
    if let Some(scope) = scope {
        challenge.push_str(&format!(r#", scope="{scope}""#));
    }
    let mut response = (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

/// `GET|POST /oauth2/userinfo`.
pub(crate) async fn show_userinfo(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if query.is_some_and(|q| q.contains("access_token=")) {
        return bearer_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the token in the Authorization header, never in the URL",
            None,
        );
    }
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "a Bearer access token is required"})),
        )
            .into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="latchkey""#),
        );
        return no_store(response);
    };
    match userinfo(&app, token, app.now()).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(UserinfoError::InvalidToken) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
            None,
        ),
        Err(UserinfoError::InsufficientScope) => bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token lacks the openid scope",
            Some("openid"),
        ),
        Err(UserinfoError::Server(error)) => crate::ApiError::from(error).into_response(),
    }
}
