//! The authorization endpoint (RFC 6749 §3.1), GET and POST (OpenID Connect Core §3.1.2.1).
//! A POST that carries `decision` is the consent form and must pass the CSRF check.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::authorize::{self, AuthorizationRequest, AuthorizeError, Decision, Outcome};
use latchkey_core::params::Params;

use crate::extract::browser::{Cookies, Csrf, session};
use crate::extract::{OAuthForm, parse_form};
use crate::pages::{ConsentPage, error_page, render};
use crate::state::AppState;

/// Parameters that belong to the consent form, not to the authorization request.
const FORM_ONLY: [&str; 2] = ["decision", "csrf_token"];

/// `GET /oauth2/authorize`.
pub(crate) async fn authorize_get(
    State(app): State<AppState>,
    cookies: Cookies,
    RawQuery(query): RawQuery,
) -> Response {
    match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&app, &cookies, &params, None).await,
        Err(error) => error_page(StatusCode::BAD_REQUEST, error.description().to_owned()),
    }
}

/// `POST /oauth2/authorize`: a form-encoded request, or the consent decision.
pub(crate) async fn authorize_post(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let Ok(OAuthForm(params)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The authorization request could not be read.",
        );
    };
    let decision = match params.get("decision") {
        None => None,
        Some(value) => {
            if !Csrf::verify(&app, &cookies, params.get("csrf_token")) {
                return error_page(
                    StatusCode::FORBIDDEN,
                    "This form has expired or did not come from this site. Go back to the application and try again.",
                );
            }
            match value {
                "allow" => Some(Decision::Allow),
                "deny" => Some(Decision::Deny),
                _ => return error_page(StatusCode::BAD_REQUEST, "Unknown decision."),
            }
        }
    };
    authorize(&app, &cookies, &params, decision).await
}

async fn authorize(
    app: &AppState,
    cookies: &Cookies,
    params: &Params,
    decision: Option<Decision>,
) -> Response {
    let now = app.now();
    let request = match AuthorizationRequest::parse(app, params, now).await {
        Ok(request) => request,
        Err(AuthorizeError::Page(error)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                format!(
                    "The application sent an invalid request: {}.",
                    error.description()
                ),
            );
        }
        Err(AuthorizeError::Redirect(url)) => return Redirect::to(&url).into_response(),
        Err(AuthorizeError::Internal(error)) => return crate::ApiError::from(error).into_response(),
    };
    let session = match session(app, cookies, now).await {
        Ok(session) => session,
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    match authorize::authorize(app, &request, session.as_ref(), decision, now).await {
        Ok(Outcome::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(Outcome::Login) => Redirect::to(&login_url(params)).into_response(),
        Ok(Outcome::Consent { new_scopes, approved }) => {
            let username = match session.as_ref() {
                Some(s) => app
                    .store
                    .find_user(&s.user_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.username),
                None => None,
            };
            let csrf = Csrf::for_browser(app, cookies);
            let page = ConsentPage {
                client_name: request.client.name.clone(),
                username: username.unwrap_or_default(),
                new_scopes: new_scopes.into_iter().map(Into::into).collect(),
                approved: approved.into_iter().map(Into::into).collect(),
                csrf_token: csrf.token.clone(),
                fields: request_fields(params, false),
            };
            render(&page, StatusCode::OK, &csrf.cookies())
        }
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

/// The request's own parameters, without the consent form's; with `for_login`, also
/// without `prompt=login` and `max_age`, which the login about to happen satisfies (kept,
/// they would send the user round the login page forever).
fn request_fields(params: &Params, for_login: bool) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(name, _)| !FORM_ONLY.contains(name))
        .filter(|(name, value)| {
            !(for_login
                && (*name == "max_age" || (*name == "prompt" && value.split(' ').any(|v| v == "login"))))
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// The login page, returning to this authorization request afterwards.
fn login_url(params: &Params) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(request_fields(params, true))
        .finish();
    let return_to = format!("/oauth2/authorize?{query}");
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &return_to)
        .finish();
    format!("/login?{encoded}")
}
