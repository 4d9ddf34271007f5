//! The login page and form, and logout.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use latchkey_core::device::UserCode;
use latchkey_core::id::{ClientId, UserId};
use latchkey_core::params::Params;
use latchkey_core::passkey::Purpose;
use latchkey_core::{login, mfa};
use serde::Deserialize;

use crate::extract::OAuthForm;
use crate::extract::browser::{Cookies, Csrf, MFA_COOKIE, SESSION_COOKIE, set_cookie};
use crate::pages::{LoginMfaPage, LoginPage, MessagePage, ProviderButton, error_page, render};
use crate::routes::passkeys;
use crate::state::AppState;

/// The one answer to every failed login (no hint whether the user exists).
const LOGIN_FAILED: &str = "Invalid username or password.";

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    return_to: Option<String>,
}

/// Only our own authorization endpoint, the device page, the account page or the home page
/// may be returned to after login,
/// so the login form cannot be turned into an open redirect.
pub(crate) fn safe_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(path)
            if (path.starts_with("/oauth2/authorize?")
                || path.starts_with("/device?")
                || path == "/account")
                && !path.contains(['\r', '\n']) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The name of the client a return-to URL is for, to show on the login page.
async fn client_name(app: &AppState, return_to: &str) -> Option<String> {
    let param = |query: &str, name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let client_id = if let Some(query) = return_to.strip_prefix("/oauth2/authorize?") {
        ClientId::new(param(query, "client_id")?)
    } else {
        let query = return_to.strip_prefix("/device?")?;
        let code = UserCode::parse(&param(query, "user_code")?)?;
        app.store.find_device_by_user_code(&code).await.ok()??.client_id
    };
    let client = app.find_client(&client_id, app.now()).await.ok()??;
    Some(client.name.clone())
}

/// The "Continue with" buttons: every configured upstream provider.
pub(crate) async fn provider_buttons(app: &AppState, return_to: &str) -> Vec<ProviderButton> {
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    app.store
        .list_providers()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| ProviderButton {
            href: format!("/login/upstream/{}?return_to={encoded}", p.id),
            id: p.id,
            name: p.name,
        })
        .collect()
}

/// The login page: password form, passkey button (with a fresh passwordless ceremony)
/// and upstream providers.
pub(crate) async fn login_page(
    app: &AppState,
    cookies: &Cookies,
    return_to: String,
    username: String,
    error: Option<String>,
) -> Response {
    let csrf = Csrf::for_browser(app, cookies);
    let (passkey, ceremony_cookie) = passkeys::ceremony(app, Purpose::SignIn, None, &[]);
    let page = LoginPage {
        providers: provider_buttons(app, &return_to).await,
        csrf_token: csrf.token.clone(),
        client_name: client_name(app, &return_to).await,
        return_to,
        username,
        error,
        passkey,
    };
    let mut set = csrf.cookies();
    set.push(ceremony_cookie);
    render(&page, StatusCode::OK, &set)
}

/// `GET /login`.
pub(crate) async fn show_login(
    State(app): State<AppState>,
    cookies: Cookies,
    Query(query): Query<LoginQuery>,
) -> Response {
    let return_to = safe_return_to(query.return_to.as_deref());
    login_page(&app, &cookies, return_to, String::new(), None).await
}

/// `POST /login`: checks the password; on success starts a fresh session and returns to
/// the authorization request.
pub(crate) async fn submit_login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let params = match sign_in_form(&app, &cookies, form).await {
        Ok(params) => params,
        Err(response) => return response,
    };
    let return_to = safe_return_to(params.get("return_to"));
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    let now = app.now();
    // Abuse limits: attempts per client address, and a back-off per account after failures.
    let account: String = username.chars().take(256).collect::<String>().to_lowercase();
    if let Err(wait) = app.limits.login_address.take(&format!("ip:{}", peer.ip())) {
        crate::metrics::rate_limited("login_address");
        return too_many_attempts(wait);
    }
    if let Err(wait) = app.limits.login_account.check(&account) {
        crate::metrics::rate_limited("login_account");
        return too_many_attempts(wait);
    }
    let user = match login::check_password(&app, username, password).await {
        Ok(user) => user,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    match &user {
        Some(_) => app.limits.login_account.succeeded(&account),
        None => app.limits.login_account.failed(&account),
    }
    let Some(user) = user else {
        let username = username.chars().take(64).collect();
        return login_page(&app, &cookies, return_to, username, Some(LOGIN_FAILED.to_owned())).await;
    };
    first_factor_done(
        &app,
        &cookies,
        &user.id,
        mfa::AMR_PASSWORD,
        &return_to,
        now,
        Vec::new(),
    )
    .await
}

/// After a first factor (a password, an upstream provider): with a second factor enrolled,
/// a sealed 5-minute challenge cookie carries the sign-in to the code page and no session
/// opens yet; otherwise the session starts. `also_set` are further cookies to send.
pub(crate) async fn first_factor_done(
    app: &AppState,
    cookies: &Cookies,
    user: &UserId,
    amr: &str,
    return_to: &str,
    now: latchkey_core::Timestamp,
    mut also_set: Vec<String>,
) -> Response {
    match mfa::has_second_factor(app, user).await {
        Ok(true) => {
            let challenge = mfa::challenge(app, user, amr, now);
            also_set.push(set_cookie(
                app,
                MFA_COOKIE,
                &challenge,
                Some(mfa::CHALLENGE_SECS.unsigned_abs()),
            ));
            let next = format!(
                "/login/mfa?return_to={}",
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            );
            see_other(&next, &also_set)
        }
        Ok(false) => signed_in(app, cookies, user, amr, return_to, now, also_set).await,
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

/// Starts a fresh session and goes on to `return_to`, setting `set` too. A fresh session
/// id on every login: an old (possibly planted) id is ended, not reused.
pub(crate) async fn signed_in(
    app: &AppState,
    cookies: &Cookies,
    user: &UserId,
    amr: &str,
    return_to: &str,
    now: latchkey_core::Timestamp,
    mut set: Vec<String>,
) -> Response {
    if let Some(old) = cookies.get(SESSION_COOKIE) {
        let _ = login::end_session(app, old).await;
    }
    let token = match login::start_session(app, user, amr, now).await {
        Ok(token) => token,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let session = set_cookie(
        app,
        SESSION_COOKIE,
        token.expose(),
        Some(app.config.session_ttl.as_secs()),
    );
    set.push(session);
    if cookies.get(MFA_COOKIE).is_some() {
        set.push(set_cookie(app, MFA_COOKIE, "", Some(0)));
    }
    see_other(return_to, &set)
}

/// 303 to `location`, setting `cookies`.
pub(crate) fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, location);
    }
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, cookie);
        }
    }
    response
}

/// The second-step page for `user`: a passkey button (with a fresh ceremony for their
/// passkeys) and the code form, as far as they have each.
pub(crate) async fn mfa_page(
    app: &AppState,
    cookies: &Cookies,
    user: &UserId,
    return_to: String,
    error: Option<String>,
) -> Response {
    let (totp, keys) = match (
        mfa::has_totp(app, user).await,
        app.store.list_passkeys(user).await,
    ) {
        (Ok(totp), Ok(keys)) => (totp, keys),
        (Err(error), _) => return crate::ApiError::from(error).into_response(),
        (_, Err(error)) => {
            return crate::ApiError::from(latchkey_core::OAuthError::from(error)).into_response();
        }
    };
    let csrf = Csrf::for_browser(app, cookies);
    let mut set = csrf.cookies();
    let passkey = (!keys.is_empty()).then(|| {
        let (request, cookie) = passkeys::ceremony(app, Purpose::SecondStep, Some(user), &keys);
        set.push(cookie);
        request
    });
    let page = LoginMfaPage {
        csrf_token: csrf.token.clone(),
        return_to,
        error,
        totp,
        passkey,
    };
    render(&page, StatusCode::OK, &set)
}

/// `GET /login/mfa`: the second step of a sign-in whose first factor was right.
pub(crate) async fn show_mfa(
    State(app): State<AppState>,
    cookies: Cookies,
    Query(query): Query<LoginQuery>,
) -> Response {
    let return_to = safe_return_to(query.return_to.as_deref());
    let Some((user, _)) = cookies
        .get(MFA_COOKIE)
        .and_then(|c| mfa::open_challenge(&app, c, app.now()))
    else {
        return see_other("/login", &[]);
    };
    mfa_page(&app, &cookies, &user, return_to, None).await
}

/// A sign-in form's parameters, CSRF-checked; otherwise the response to send.
pub(crate) async fn sign_in_form(
    app: &AppState,
    cookies: &Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Result<Params, Response> {
    let Ok(OAuthForm(params)) = form else {
        return Err(error_page(StatusCode::BAD_REQUEST, "The form could not be read."));
    };
    if !Csrf::verify(app, cookies, params.get("csrf_token")) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back and try again.",
        ));
    }
    Ok(params)
}

/// A second-step form (code or passkey), checked.
pub(crate) struct SecondStep {
    pub(crate) params: Params,
    /// Whose sign-in is waiting for its second step.
    pub(crate) user: UserId,
    /// How the first step was done.
    pub(crate) first_amr: String,
    /// The per-account back-off key.
    pub(crate) account: String,
    pub(crate) return_to: String,
}

/// A second-step form: CSRF-checked, with a live first step (else back to `/login`) and
/// the account not backed off (else 429).
pub(crate) async fn second_step_form(
    app: &AppState,
    cookies: &Cookies,
    form: Result<OAuthForm, crate::ApiError>,
    now: latchkey_core::Timestamp,
) -> Result<SecondStep, Response> {
    let params = sign_in_form(app, cookies, form).await?;
    let return_to = safe_return_to(params.get("return_to"));
    let Some((user, first_amr)) = cookies
        .get(MFA_COOKIE)
        .and_then(|c| mfa::open_challenge(app, c, now))
    else {
        return Err(see_other("/login", &[]));
    };
    let account = format!("mfa:{}", user.as_str());
    if let Err(wait) = app.limits.login_account.check(&account) {
        crate::metrics::rate_limited("login_account");
        return Err(too_many_attempts(wait));
    }
    Ok(SecondStep {
        params,
        user,
        first_amr,
        account,
        return_to,
    })
}

/// `POST /login/mfa`: checks the code (TOTP or recovery code) under the same per-account
/// back-off as passwords; on success starts a two-factor session.
pub(crate) async fn submit_mfa(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let now = app.now();
    let SecondStep {
        params,
        user,
        first_amr,
        account,
        return_to,
    } = match second_step_form(&app, &cookies, form, now).await {
        Ok(step) => step,
        Err(response) => return response,
    };
    let typed = params.get("code").unwrap_or_default();
    let amr = match mfa::verify(&app, &user, &first_amr, typed, now).await {
        Ok(amr) => amr,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let Some(amr) = amr else {
        app.limits.login_account.failed(&account);
        let error = Some("That code is not right.".to_owned());
        return mfa_page(&app, &cookies, &user, return_to, error).await;
    };
    app.limits.login_account.succeeded(&account);
    signed_in(&app, &cookies, &user, &amr, &return_to, now, Vec::new()).await
}

/// 429 with `Retry-After`: the same page whether the address or the account is throttled.
pub(crate) fn too_many_attempts(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let page = MessagePage {
        title: "Too many attempts",
        message: format!("Too many sign-in attempts. Wait {seconds} seconds, then try again."),
        is_error: true,
    };
    let mut response = render(&page, StatusCode::TOO_MANY_REQUESTS, &[]);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// `POST /logout`: ends the session.
pub(crate) async fn submit_logout(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let submitted = form
        .ok()
        .and_then(|OAuthForm(params)| params.get("csrf_token").map(str::to_owned));
    if !Csrf::verify(&app, &cookies, submitted.as_deref()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back and try again.",
        );
    }
    if let Some(value) = cookies.get(SESSION_COOKIE) {
        if let Err(error) = login::end_session(&app, value).await {
            return crate::ApiError::from(error).into_response();
        }
    }
    let clear = set_cookie(&app, SESSION_COOKIE, "", Some(0));
    let page = MessagePage {
        title: "Signed out",
        message: "You are signed out.".into(),
        is_error: false,
    };
    render(&page, StatusCode::OK, &[clear])
}
