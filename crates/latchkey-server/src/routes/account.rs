//! The account page: who is signed in, which applications they allowed (and revoking
//! them, after a confirmation), changing the password, and signing out everywhere.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::clock::Timestamp;
use latchkey_core::family::Session;
use latchkey_core::grants;
use latchkey_core::id::ClientId;
use latchkey_core::login::{self, PasswordChangeError};
use latchkey_core::params::Params;
use latchkey_core::user::User;

use crate::extract::OAuthForm;
use crate::extract::browser::{Cookies, Csrf, SESSION_COOKIE, session, set_cookie};
use crate::pages::{
    GrantItem, HomePage, IdentityItem, MessagePage, MfaCodesPage, MfaSetupPage, PasskeyItem, ProviderButton,
    RevokeConfirmPage, error_page, qr_svg, render,
};
use crate::state::AppState;

fn day(at: Timestamp) -> String {
    at.to_rfc3339().chars().take(10).collect()
}

fn minute(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    format!(
        "{} {} UTC",
        text.get(..10).unwrap_or(&text),
        text.get(11..16).unwrap_or("")
    )
}

/// The signed-in user, or `None`.
async fn signed_in(
    app: &AppState,
    cookies: &Cookies,
    now: Timestamp,
) -> Result<Option<(Session, User)>, Response> {
    let session = match session(app, cookies, now).await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(error) => return Err(crate::ApiError::from(error).into_response()),
    };
    match app.store.find_user(&session.user_id).await {
        Ok(user) => Ok(user.map(|u| (session, u))),
        Err(error) => Err(crate::ApiError::from(latchkey_core::OAuthError::from(error)).into_response()),
    }
}

/// The account page for `user`, with an optional notice or password error.
pub(crate) async fn account_page(
    app: &AppState,
    cookies: &Cookies,
    user: User,
    notice: Option<String>,
    password_error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = app.now();
    let csrf = Csrf::for_browser(app, cookies);
    let grants = match grants::list_grants(app, &user.id, now).await {
        Ok(grants) => grants,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let mfa_enabled = match latchkey_core::mfa::has_totp(app, &user.id).await {
        Ok(enabled) => enabled,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let recovery_codes_left = if mfa_enabled {
        app.store.recovery_codes_left(&user.id).await.unwrap_or_default()
    } else {
        0
    };
    let passkeys = match app.store.list_passkeys(&user.id).await {
        Ok(keys) => keys
            .into_iter()
            .map(|k| PasskeyItem {
                id: latchkey_core::secret::b64(&k.credential_id),
                name: k.name,
                added: day(k.created_at),
                last_used: k.last_used_at.map(minute),
                synced: k.backup_eligible,
            })
            .collect(),
        Err(error) => return crate::ApiError::from(latchkey_core::OAuthError::from(error)).into_response(),
    };
    let identities = app.store.list_identities(&user.id).await.unwrap_or_default();
    let providers = app.store.list_providers().await.unwrap_or_default();
    let name_of = |id: &str| {
        providers
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_owned(), |p| p.name.clone())
    };
    let link_providers = providers
        .iter()
        .filter(|p| !identities.iter().any(|i| i.issuer == p.issuer))
        .map(|p| ProviderButton {
            id: p.id.clone(),
            name: p.name.clone(),
            href: String::new(),
        })
        .collect();
    let identities = identities
        .iter()
        .map(|i| IdentityItem {
            provider_name: name_of(&i.provider_id),
            issuer: i.issuer.clone(),
            subject: i.subject.clone(),
            linked: day(i.created_at),
        })
        .collect();
    let page = HomePage {
        passkeys,
        identities,
        link_providers,
        mfa_enabled,
        recovery_codes_left,
        username: user.username,
        grants: grants
            .into_iter()
            .map(|g| GrantItem {
                client_id: g.client_id.to_string(),
                client_name: g.client_name,
                first_granted: day(g.first_granted),
                last_used: g.last_used.map(minute),
                offline_access: g.offline_access,
                scopes: g.scopes.into_iter().map(Into::into).collect(),
            })
            .collect(),
        csrf_token: csrf.token.clone(),
        notice,
        password_error,
    };
    render(&page, status, &csrf.cookies())
}

/// `GET /account` (and `/`).
pub(crate) async fn show_account(State(app): State<AppState>, cookies: Cookies) -> Response {
    let now = app.now();
    match signed_in(&app, &cookies, now).await {
        Ok(Some((_, user))) => account_page(&app, &cookies, user, None, None, StatusCode::OK).await,
        Ok(None) => {
            let csrf = Csrf::for_browser(&app, &cookies);
            let page = MessagePage {
                title: "Latchkey",
                message: "You are not signed in.".into(),
                is_error: false,
            };
            render(&page, StatusCode::OK, &csrf.cookies())
        }
        Err(response) => response,
    }
}

/// A form posted by a signed-in user, CSRF-checked; otherwise the response to send.
pub(crate) async fn checked_form(
    app: &AppState,
    cookies: &Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Result<(Params, Session, User), Response> {
    let Ok(OAuthForm(params)) = form else {
        return Err(error_page(StatusCode::BAD_REQUEST, "The form could not be read."));
    };
    if !Csrf::verify(app, cookies, params.get("csrf_token")) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back and try again.",
        ));
    }
    match signed_in(app, cookies, app.now()).await? {
        Some((session, user)) => Ok((params, session, user)),
        None => Err(Redirect::to("/login?return_to=%2Faccount").into_response()),
    }
}

/// `POST /grants/revoke`: asks for confirmation (`revoke=ask`), then withdraws consent for
/// one client and revokes every token of that grant (`revoke=confirm`).
pub(crate) async fn revoke_grant(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, session, _) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let Some(client_id) = params
        .get("client_id")
        .filter(|id| !id.is_empty() && id.len() <= 255)
    else {
        return error_page(StatusCode::BAD_REQUEST, "No application was named.");
    };
    let client_id = ClientId::new(client_id);
    let now = app.now();
    if params.get("revoke") != Some("confirm") {
        let client_name = match app.find_client(&client_id, now).await {
            Ok(Some(client)) => client.name.clone(),
            Ok(None) => return error_page(StatusCode::NOT_FOUND, "No such application."),
            Err(error) => return crate::ApiError::from(error).into_response(),
        };
        let csrf = Csrf::for_browser(&app, &cookies);
        let page = RevokeConfirmPage {
            client_id: client_id.to_string(),
            client_name,
            csrf_token: csrf.token.clone(),
        };
        return render(&page, StatusCode::OK, &csrf.cookies());
    }
    if let Err(error) = grants::revoke_grant(&app, &session.user_id, &client_id, now).await {
        return crate::ApiError::from(error).into_response();
    }
    Redirect::to("/account").into_response()
}

/// `POST /account/password`: the current password, then the new one twice.
pub(crate) async fn change_password(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, _, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let current = params.get("current_password").unwrap_or_default();
    let new = params.get("new_password").unwrap_or_default();
    if params.get("new_password_again") != Some(new) {
        let error = Some("The two new passwords differ.".to_owned());
        return account_page(&app, &cookies, user, None, error, StatusCode::BAD_REQUEST).await;
    }
    let this_session = cookies.get(SESSION_COOKIE).unwrap_or_default().to_owned();
    match login::change_password(&app, &user, current, new, &this_session).await {
        Ok(ended) => {
            let notice = format!(
                "Your password is changed. {ended} other session{} signed out.",
                if ended == 1 { " was" } else { "s were" }
            );
            account_page(&app, &cookies, user, Some(notice), None, StatusCode::OK).await
        }
        Err(PasswordChangeError::Failed(error)) => crate::ApiError::from(error).into_response(),
        Err(refused) => {
            let status = match refused {
                PasswordChangeError::WrongPassword => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            account_page(&app, &cookies, user, None, Some(refused.to_string()), status).await
        }
    }
}

/// `POST /account/sessions/end`: signs the user out of every browser, this one included.
pub(crate) async fn end_sessions(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (_, session, _) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let ended = match login::end_all_sessions(&app, &session.user_id).await {
        Ok(ended) => ended,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let clear = set_cookie(&app, SESSION_COOKIE, "", Some(0));
    let page = MessagePage {
        title: "Signed out everywhere",
        message: format!(
            "{ended} session{} ended, this one included.",
            if ended == 1 { " was" } else { "s were" }
        ),
        is_error: false,
    };
    render(&page, StatusCode::OK, &[clear])
}

/// The enrolment page for a pending secret.
fn setup_page(
    app: &AppState,
    cookies: &Cookies,
    user: &User,
    secret: &latchkey_core::mfa::TotpSecret,
    error: Option<&'static str>,
) -> Response {
    let csrf = Csrf::for_browser(app, cookies);
    let issuer_label = url::Url::parse(&app.config.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Latchkey".to_owned());
    let uri = secret.otpauth_uri(&issuer_label, &user.username);
    let base32 = secret.base32();
    let grouped: Vec<String> = base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let page = MfaSetupPage {
        qr_svg: qr_svg(&uri),
        secret: grouped.join(" "),
        csrf_token: csrf.token.clone(),
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(&page, status, &csrf.cookies())
}

/// `POST /account/mfa/setup`: a new TOTP secret to scan (not active until confirmed).
pub(crate) async fn setup_mfa(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (_, _, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    match latchkey_core::mfa::begin_enrolment(&app, &user.id, app.now()).await {
        Ok(Some(secret)) => setup_page(&app, &cookies, &user, &secret, None),
        Ok(None) => {
            let notice = Some("Two-step sign-in is already on; turn it off first to start over.".to_owned());
            account_page(&app, &cookies, user, notice, None, StatusCode::CONFLICT).await
        }
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

/// `POST /account/mfa/confirm`: the first code from the app turns two-step sign-in on and
/// shows the recovery codes once.
pub(crate) async fn confirm_mfa(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, _, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let now = app.now();
    let code = params.get("code").unwrap_or_default();
    match latchkey_core::mfa::confirm_enrolment(&app, &user.id, code, now).await {
        Ok(Some(codes)) => render(&MfaCodesPage { codes }, StatusCode::OK, &[]),
        Ok(None) => match latchkey_core::mfa::pending_secret(&app, &user.id).await {
            Ok(Some(secret)) => setup_page(
                &app,
                &cookies,
                &user,
                &secret,
                Some("That code is not right. Try the next one."),
            ),
            Ok(None) => Redirect::to("/account").into_response(),
            Err(error) => crate::ApiError::from(error).into_response(),
        },
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

/// `POST /account/mfa/remove`: turns two-step sign-in off, after the current password.
pub(crate) async fn remove_mfa(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, session, user) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let password = params.get("current_password").unwrap_or_default();
    match login::check_password(&app, &user.username, password).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let error = Some("The current password is not right.".to_owned());
            return account_page(&app, &cookies, user, None, error, StatusCode::FORBIDDEN).await;
        }
        Err(error) => return crate::ApiError::from(error).into_response(),
    }
    let actor = latchkey_core::audit::Actor::User(session.user_id.clone());
    match latchkey_core::mfa::remove(&app, &user.id, &actor, app.now()).await {
        Ok(_) => {
            let notice = Some("Two-step sign-in is off.".to_owned());
            account_page(&app, &cookies, user, notice, None, StatusCode::OK).await
        }
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}
