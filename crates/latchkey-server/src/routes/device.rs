//! The device flow's endpoints: device authorization (RFC 8628 §3.1) for the device, and
//! the verification page (§3.3) for the person: enter the code, log in if needed, then
//! confirm, naming the client and scopes (§5.4), with wrong codes rate limited (§5.1).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::authorize::{Decision, describe};
use latchkey_core::device_flow::{self, CodeLookup, DeviceDecision};
use latchkey_core::{Timestamp, client_auth};
use serde::Deserialize;

use crate::error::{ApiError, no_store};
use crate::extract::browser::{CSRF_COOKIE, Cookies, Csrf, session};
use crate::extract::{ClientRequest, OAuthForm};
use crate::pages::{DeviceConfirmPage, DeviceEntryPage, MessagePage, error_page, render};
use crate::state::AppState;

/// `POST /oauth2/device_authorization`.
pub(crate) async fn start_device_authorization(
    State(app): State<AppState>,
    request: ClientRequest,
) -> Result<Response, ApiError> {
    let now = app.now();
    let client = client_auth::authenticate(&app, &request.credentials, now).await?;
    let response = device_flow::start(&app, &client, &request.params, now).await?;
    Ok(no_store(Json(response).into_response()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeviceQuery {
    user_code: Option<String>,
}

fn entry_page(
    app: &AppState,
    cookies: &Cookies,
    user_code: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let csrf = Csrf::for_browser(app, cookies);
    let page = DeviceEntryPage {
        csrf_token: csrf.token.clone(),
        user_code: user_code.chars().take(20).collect(),
        error,
    };
    render(&page, status, &csrf.cookies())
}

/// `GET /device`: the code form, pre-filled from `verification_uri_complete`.
pub(crate) async fn show_device(
    State(app): State<AppState>,
    cookies: Cookies,
    Query(query): Query<DeviceQuery>,
) -> Response {
    entry_page(
        &app,
        &cookies,
        query.user_code.as_deref().unwrap_or_default(),
        None,
        StatusCode::OK,
    )
}

/// Who the brute-force limits count: the client address and this browser.
fn subjects(app: &AppState, peer: SocketAddr, cookies: &Cookies) -> Vec<String> {
    let mut subjects = vec![format!("ip:{}", peer.ip())];
    if let Some(browser) = cookies.get(CSRF_COOKIE) {
        subjects.push(format!("browser:{}", app.hasher.mac("device-subject", browser)));
    }
    subjects
}

enum Looked {
    Ready(
        Box<latchkey_core::device::DeviceAuthorization>,
        std::sync::Arc<latchkey_core::client::Client>,
    ),
    Page(Response),
}

async fn look_up(app: &AppState, cookies: &Cookies, peer: SocketAddr, typed: &str, now: Timestamp) -> Looked {
    let page = |error, status| Looked::Page(entry_page(app, cookies, typed, Some(error), status));
    match device_flow::lookup(app, typed, &subjects(app, peer, cookies), now).await {
        Ok(CodeLookup::Ready(device, client)) => Looked::Ready(device, client),
        Ok(CodeLookup::Unknown) => page(
            "That code is not valid. Check the code shown on your device.",
            StatusCode::BAD_REQUEST,
        ),
        Ok(CodeLookup::Expired) => page(
            "That code has expired. Start again on your device.",
            StatusCode::BAD_REQUEST,
        ),
        Ok(CodeLookup::Used) => page("That code has already been used.", StatusCode::BAD_REQUEST),
        Ok(CodeLookup::RateLimited) => page(
            "Too many wrong codes. Wait a few minutes, then try again.",
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(error) => Looked::Page(ApiError::from(error).into_response()),
    }
}

fn login_redirect(user_code: &str) -> Response {
    let return_to = format!(
        "/device?user_code={}",
        url::form_urlencoded::byte_serialize(user_code.as_bytes()).collect::<String>()
    );
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    Redirect::to(&format!("/login?return_to={encoded}")).into_response()
}

/// `POST /device`: checks the code, then sends the person to log in or to confirm.
pub(crate) async fn submit_device_code(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    cookies: Cookies,
    form: Result<OAuthForm, ApiError>,
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
    let typed = params.get("user_code").unwrap_or_default();
    let (device, client) = match look_up(&app, &cookies, peer, typed, now).await {
        Looked::Ready(device, client) => (device, client),
        Looked::Page(page) => return page,
    };
    let session = match session(&app, &cookies, now).await {
        Ok(Some(session)) => session,
        Ok(None) => return login_redirect(&device.user_code.display()),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let username = app
        .store
        .find_user(&session.user_id)
        .await
        .ok()
        .flatten()
        .map(|u| u.username);
    let Some(username) = username else {
        return login_redirect(&device.user_code.display());
    };
    // Restricted scopes the user holds no role for are not offered (nor granted).
    let offered = match latchkey_core::roles::permitted(&app, &session.user_id, &device.scopes, now).await {
        Ok(offered) => offered,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let scopes = match describe(&app, &offered).await {
        Ok(scopes) => scopes,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let csrf = Csrf::for_browser(&app, &cookies);
    let page = DeviceConfirmPage {
        client_name: client.name.clone(),
        username,
        user_code: device.user_code.display(),
        scopes: scopes.into_iter().map(Into::into).collect(),
        csrf_token: csrf.token.clone(),
    };
    render(&page, StatusCode::OK, &csrf.cookies())
}

/// `POST /device/confirm`: the person's allow or deny.
pub(crate) async fn confirm_device(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    cookies: Cookies,
    form: Result<OAuthForm, ApiError>,
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
    let decision = match params.get("decision") {
        Some("allow") => Decision::Allow,
        Some("deny") => Decision::Deny,
        _ => return error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    let now = app.now();
    let typed = params.get("user_code").unwrap_or_default();
    let session = match session(&app, &cookies, now).await {
        Ok(Some(session)) => session,
        Ok(None) => return login_redirect(typed),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let device = match look_up(&app, &cookies, peer, typed, now).await {
        Looked::Ready(device, _) => device,
        Looked::Page(page) => return page,
    };
    let (title, message) = match device_flow::decide(&app, &device, &session, decision, now).await {
        Ok(DeviceDecision::Approved) => ("Device connected", "You can go back to your device now."),
        Ok(DeviceDecision::Denied) => ("Request denied", "The device was not given access."),
        Ok(DeviceDecision::TooLate) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "That code has already been used or has expired.",
            );
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    render(
        &MessagePage {
            title,
            message: message.into(),
            is_error: false,
        },
        StatusCode::OK,
        &[],
    )
}
