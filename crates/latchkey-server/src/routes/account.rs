//! The account page: who is signed in, which applications they allowed, and revoking them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::grants;
use latchkey_core::id::ClientId;

use crate::extract::OAuthForm;
use crate::extract::browser::{Cookies, Csrf, session};
use crate::pages::{GrantItem, HomePage, MessagePage, error_page, render};
use crate::state::AppState;

/// `GET /`.
pub(crate) async fn show_account(State(app): State<AppState>, cookies: Cookies) -> Response {
    let now = app.now();
    let user = match session(&app, &cookies, now).await {
        Ok(Some(s)) => app.store.find_user(&s.user_id).await.ok().flatten(),
        Ok(None) => None,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let csrf = Csrf::for_browser(&app, &cookies);
    let Some(user) = user else {
        let page = MessagePage {
            title: "Latchkey",
            message: "You are not signed in.".into(),
            is_error: false,
        };
        return render(&page, StatusCode::OK, &csrf.cookies());
    };
    let grants = match grants::list_grants(&app, &user.id).await {
        Ok(grants) => grants,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let page = HomePage {
        username: user.username,
        grants: grants
            .into_iter()
            .map(|g| GrantItem {
                client_id: g.client_id.to_string(),
                client_name: g.client_name,
                since: g.updated_at.to_rfc3339().chars().take(10).collect(),
                scopes: g.scopes.into_iter().map(Into::into).collect(),
            })
            .collect(),
        csrf_token: csrf.token.clone(),
    };
    render(&page, StatusCode::OK, &csrf.cookies())
}

/// `POST /grants/revoke`: withdraws consent for one client and revokes its tokens.
pub(crate) async fn revoke_grant(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let Ok(OAuthForm(params)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    if !Csrf::verify(&app, &cookies, params.get("csrf_token")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back and try again.",
        );
    }
    let now = app.now();
    let Ok(Some(session)) = session(&app, &cookies, now).await else {
        return Redirect::to("/login").into_response();
    };
    let Some(client_id) = params.get("client_id").filter(|id| id.len() <= 255) else {
        return error_page(StatusCode::BAD_REQUEST, "No application was named.");
    };
    if let Err(error) = grants::revoke_grant(&app, &session.user_id, &ClientId::new(client_id), now).await {
        return crate::ApiError::from(error).into_response();
    }
    Redirect::to("/").into_response()
}
