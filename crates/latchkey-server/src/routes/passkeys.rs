//! Passkeys. On the account page: `POST /account/passkeys/new` (the page that creates
//! one), `/account/passkeys/add` (the browser's answer) and `/account/passkeys/remove`.
//! At sign-in: `POST /login/passkey` (passwordless) and `POST /login/mfa/passkey` (the
//! second step after a password or an upstream provider).
//!
//! The pages carry each ceremony's challenge in data attributes for `/assets/passkey.js`
//! and in a sealed cookie for us; the checks are all in `latchkey_core::passkey`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::id::UserId;
use latchkey_core::params::Params;
use latchkey_core::passkey::{self, CEREMONY_SECS, PasskeyRefusal, Purpose};
use latchkey_core::secret::{b64, b64_decode};
use latchkey_core::store::Passkey;
use latchkey_core::user::User;
use latchkey_core::webauthn::Assertion;
use latchkey_core::{OAuthError, mfa};

use crate::extract::OAuthForm;
use crate::extract::browser::{Cookies, Csrf, PASSKEY_COOKIE, set_cookie};
use crate::pages::{PasskeyAddPage, PasskeyRequest, error_page, render};
use crate::routes::account::{account_page, checked_form};
use crate::routes::login::{
    SecondStep, login_page, mfa_page, safe_return_to, second_step_form, sign_in_form, signed_in,
    too_many_attempts,
};
use crate::state::AppState;

/// A new ceremony for a page: what its form carries, and the cookie to set.
pub(crate) fn ceremony(
    app: &AppState,
    purpose: Purpose,
    user: Option<&UserId>,
    keys: &[Passkey],
) -> (PasskeyRequest, String) {
    let (ceremony, sealed) = passkey::begin(app, purpose, user, app.now());
    let request = PasskeyRequest {
        challenge: ceremony.challenge_b64(),
        rp_id: passkey::relying_party(app).map(|rp| rp.id).unwrap_or_default(),
        credentials: keys
            .iter()
            .map(|k| b64(&k.credential_id))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let cookie = set_cookie(app, PASSKEY_COOKIE, &sealed, Some(CEREMONY_SECS.unsigned_abs()));
    (request, cookie)
}

fn internal(error: impl Into<OAuthError>) -> Response {
    crate::ApiError::from(error.into()).into_response()
}

/// The page that creates a passkey for `user` (their existing ones excluded).
async fn add_page(app: &AppState, cookies: &Cookies, user: &User, error: Option<String>) -> Response {
    let keys = match app.store.list_passkeys(&user.id).await {
        Ok(keys) => keys,
        Err(error) => return internal(error),
    };
    let csrf = Csrf::for_browser(app, cookies);
    let (request, cookie) = ceremony(app, Purpose::Register, Some(&user.id), &keys);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = PasskeyAddPage {
        csrf_token: csrf.token.clone(),
        passkey: request,
        user_handle: b64(&passkey::user_handle(&user.id)),
        username: user.username.clone(),
        error,
    };
    let mut set = csrf.cookies();
    set.push(cookie);
    render(&page, status, &set)
}

/// `POST /account/passkeys/new`: the page that asks the browser for a new passkey.
pub(crate) async fn new_passkey(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    match checked_form(&app, &cookies, form).await {
        Ok((_, _, user)) => add_page(&app, &cookies, &user, None).await,
        Err(response) => response,
    }
}

/// A base64url form field, if present and well-formed.
fn field(params: &Params, name: &str) -> Option<Vec<u8>> {
    params.get(name).filter(|v| !v.is_empty()).and_then(b64_decode)
}

/// `POST /account/passkeys/add`: checks the new credential and stores it.
pub(crate) async fn add_passkey(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, _, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let (Some(client_data), Some(attestation)) = (
        field(&params, "client_data_json"),
        field(&params, "attestation_object"),
    ) else {
        let error = Some("The browser sent no passkey. Try again.".to_owned());
        return add_page(&app, &cookies, &user, error).await;
    };
    let ceremony = cookies.get(PASSKEY_COOKIE).unwrap_or_default();
    let name = params.get("name").unwrap_or_default();
    match passkey::register(&app, &user, ceremony, name, &client_data, &attestation, app.now()).await {
        Ok(Ok(added)) => {
            let notice = Some(format!("Passkey \u{201c}{}\u{201d} added.", added.name));
            account_page(&app, &cookies, user, notice, None, StatusCode::OK).await
        }
        Ok(Err(refusal)) => add_page(&app, &cookies, &user, Some(format!("Not added: {refusal}."))).await,
        Err(error) => internal(error),
    }
}

/// `POST /account/passkeys/remove`: removes one of the user's passkeys, unless it is their
/// last way to sign in.
pub(crate) async fn remove_passkey(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, _, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let Some(id) = field(&params, "credential_id") else {
        return error_page(StatusCode::BAD_REQUEST, "No passkey was named.");
    };
    match passkey::remove(&app, &user.id, &id, app.now()).await {
        Ok(Ok(())) => {
            let notice = Some("Passkey removed.".to_owned());
            account_page(&app, &cookies, user, notice, None, StatusCode::OK).await
        }
        Ok(Err(refusal)) => {
            let status = match refusal {
                PasskeyRefusal::Unknown => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            let notice = Some(format!("Not removed: {refusal}."));
            account_page(&app, &cookies, user, notice, None, status).await
        }
        Err(error) => internal(error),
    }
}

/// The assertion in a sign-in form.
fn assertion(params: &Params) -> Option<Assertion> {
    Some(Assertion {
        credential_id: field(params, "credential_id")?,
        client_data_json: field(params, "client_data_json")?,
        authenticator_data: field(params, "authenticator_data")?,
        signature: field(params, "signature")?,
        user_handle: field(params, "user_handle"),
    })
}

/// `POST /login/passkey`: a passwordless sign-in. The authenticator must have verified the
/// user (PIN or biometrics), so the session counts as two factors (`amr` `hwk`/`swk` and
/// `mfa`) and no second step follows.
pub(crate) async fn sign_in(
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
    if let Err(wait) = app.limits.login_address.take(&format!("ip:{}", peer.ip())) {
        crate::metrics::rate_limited("login_address");
        return too_many_attempts(wait);
    }
    let Some(assertion) = assertion(&params) else {
        let error = Some("The browser sent no passkey. Try again.".to_owned());
        return login_page(&app, &cookies, return_to, String::new(), error).await;
    };
    let now = app.now();
    let ceremony = cookies.get(PASSKEY_COOKIE).unwrap_or_default();
    match passkey::authenticate(&app, ceremony, Purpose::SignIn, None, &assertion, now).await {
        Ok(Ok(key)) => {
            let amr = format!("{} {}", passkey::key_amr(&key), mfa::AMR_MFA);
            signed_in(&app, &cookies, &key.user_id, &amr, &return_to, now, Vec::new()).await
        }
        Ok(Err(refusal)) => {
            let error = Some(format!("That passkey did not work: {refusal}."));
            login_page(&app, &cookies, return_to, String::new(), error).await
        }
        Err(error) => internal(error),
    }
}

/// `POST /login/mfa/passkey`: a passkey as the second step, under the same per-account
/// back-off as codes.
pub(crate) async fn second_step(
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
    let Some(assertion) = assertion(&params) else {
        let error = Some("The browser sent no passkey. Try again.".to_owned());
        return mfa_page(&app, &cookies, &user, return_to, error).await;
    };
    let ceremony = cookies.get(PASSKEY_COOKIE).unwrap_or_default();
    match passkey::authenticate(&app, ceremony, Purpose::SecondStep, Some(&user), &assertion, now).await {
        Ok(Ok(key)) => {
            app.limits.login_account.succeeded(&account);
            let amr = mfa::second_step_amr(&first_amr, passkey::key_amr(&key));
            signed_in(&app, &cookies, &user, &amr, &return_to, now, Vec::new()).await
        }
        Ok(Err(refusal)) => {
            app.limits.login_account.failed(&account);
            let error = Some(format!("That passkey did not work: {refusal}."));
            mfa_page(&app, &cookies, &user, return_to, error).await
        }
        Err(error) => internal(error),
    }
}
