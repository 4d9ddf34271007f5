//! Signing in through an upstream OpenID Connect provider: `GET /login/upstream/{id}`
//! sends the browser there (authorization code with PKCE, `state` and `nonce` in a sealed
//! cookie); `GET /login/upstream/{id}/callback` takes the code back, redeems it, checks the
//! ID token against the upstream's JWKS and signs the linked (or a new) user in. The
//! account page links (`POST /account/upstream/{id}/link`) and unlinks identities.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use latchkey_core::federation::{self, FederationError, Flow, UpstreamProvider};
use latchkey_core::id::UserId;
use serde::Deserialize;
use serde_json::Value;

use crate::extract::OAuthForm;
use crate::extract::browser::{Cookies, UPSTREAM_COOKIE, set_cookie};
use crate::pages::error_page;
use crate::routes::account::checked_form;
use crate::routes::login::{first_factor_done, safe_return_to, see_other};
use crate::state::AppState;

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// What we use of the upstream's discovery document.
#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

/// How long an upstream's discovery document and keys are reused.
const UPSTREAM_CACHE_SECS: u64 = 300;

/// What this node fetched from upstreams lately: discovery documents and JWK Sets, by URL.
fn cache() -> &'static std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Value)>> {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Value)>>> =
        OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A JSON document from `url`, reused for [`UPSTREAM_CACHE_SECS`] unless `fresh`.
async fn fetch_json(url: &str, fresh: bool) -> Option<Value> {
    if !fresh {
        if let Ok(cached) = cache().lock() {
            if let Some((at, doc)) = cached.get(url) {
                if at.elapsed() < Duration::from_secs(UPSTREAM_CACHE_SECS) {
                    return Some(doc.clone());
                }
            }
        }
    }
    let answer = http().get(url).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let doc: Value = answer.json().await.ok()?;
    if let Ok(mut cached) = cache().lock() {
        if cached.len() > 256 {
            cached.clear();
        }
        cached.insert(url.to_owned(), (std::time::Instant::now(), doc.clone()));
    }
    Some(doc)
}

async fn metadata(provider: &UpstreamProvider) -> Result<Metadata, &'static str> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        provider.issuer.trim_end_matches('/')
    );
    let doc = fetch_json(&url, false)
        .await
        .ok_or("its discovery document is unreachable")?;
    let doc: Metadata = serde_json::from_value(doc).map_err(|_| "its discovery document is not usable")?;
    // OpenID Connect Discovery §4.3: the document must name the issuer we asked about.
    if doc.issuer != provider.issuer {
        return Err("its discovery document names another issuer");
    }
    Ok(doc)
}

fn callback_uri(app: &AppState, provider: &UpstreamProvider) -> String {
    format!("{}/login/upstream/{}/callback", app.config.issuer, provider.id)
}

async fn provider(app: &AppState, id: &str) -> Result<UpstreamProvider, Response> {
    match app.store.find_provider(id).await {
        Ok(Some(provider)) => Ok(provider),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            "There is no such sign-in provider.",
        )),
        Err(error) => Err(crate::ApiError::from(OAuthError::from(error)).into_response()),
    }
}

/// Sends the browser to the provider with a new flow.
async fn start(
    app: &AppState,
    provider: &UpstreamProvider,
    return_to: &str,
    link_to: Option<&UserId>,
) -> Response {
    let endpoint = match &provider.oauth2 {
        Some(plain) => plain.authorize_url.clone(),
        None => match metadata(provider).await {
            Ok(metadata) => metadata.authorization_endpoint,
            Err(why) => {
                return error_page(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "Signing in with {} is not possible right now: {why}.",
                        provider.name
                    ),
                );
            }
        },
    };
    let flow = Flow::new(&provider.id, return_to, link_to, app.now());
    let Some(url) = flow.authorization_url(&endpoint, provider, &callback_uri(app, provider)) else {
        return error_page(
            StatusCode::BAD_GATEWAY,
            "The provider's authorization endpoint is not a URL.",
        );
    };
    let cookie = set_cookie(
        app,
        UPSTREAM_COOKIE,
        &flow.seal(app),
        Some(federation::FLOW_SECS.unsigned_abs()),
    );
    see_other(&url, &[cookie])
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    return_to: Option<String>,
}

/// `GET /login/upstream/{id}`.
pub(crate) async fn start_sign_in(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<StartQuery>,
) -> Response {
    match provider(&app, &id).await {
        Ok(provider) => start(&app, &provider, &safe_return_to(query.return_to.as_deref()), None).await,
        Err(response) => response,
    }
}

/// `POST /account/upstream/{id}/link`: the signed-in user links an upstream identity.
pub(crate) async fn start_link(
    State(app): State<AppState>,
    Path(id): Path<String>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let user = match checked_form(&app, &cookies, form).await {
        Ok((_, session, _)) => session.user_id,
        Err(response) => return response,
    };
    match provider(&app, &id).await {
        Ok(provider) => start(&app, &provider, "/account", Some(&user)).await,
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /login/upstream/{id}/callback`.
pub(crate) async fn callback(
    State(app): State<AppState>,
    Path(id): Path<String>,
    cookies: Cookies,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let now = app.now();
    let Some(flow) = cookies
        .get(UPSTREAM_COOKIE)
        .and_then(|c| Flow::open(&app, c, now))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was not started here. Start again.",
        );
    };
    // RFC 6749 §10.12: the response must come back to the browser that asked for it.
    if flow.provider != id || !query.state.as_deref().is_some_and(|s| flow.state_matches(s)) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in answer does not belong to this browser. Start again.",
        );
    }
    let provider = match provider(&app, &id).await {
        Ok(provider) => provider,
        Err(response) => return response,
    };
    if query.error.is_some() {
        return error_page(
            StatusCode::FORBIDDEN,
            format!("{} did not sign you in.", provider.name),
        );
    }
    let Some(code) = query.code else {
        return error_page(StatusCode::BAD_REQUEST, "The provider sent no code.");
    };
    let identity = match &provider.oauth2 {
        Some(plain) => plain_identity(&app, &provider, plain, &flow, &code).await,
        None => oidc_identity(&app, &provider, &flow, &code, now).await,
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(error) => return refused(&error),
    };
    let link_to = flow.link_to.as_deref().map(UserId::new);
    let user = match federation::resolve(&app, &provider, &identity, link_to.as_ref(), now).await {
        Ok(Ok(user)) => user,
        Ok(Err(error)) => return refused(&error),
        Err(error) => return crate::ApiError::from(error).into_response(),
    };
    let clear = set_cookie(&app, UPSTREAM_COOKIE, "", Some(0));
    // A second factor, when the account has one, is still asked for.
    first_factor_done(&app, &cookies, &user, "fed", &flow.return_to, now, vec![clear]).await
}

fn refused(error: &FederationError) -> Response {
    let status = match error {
        FederationError::Invalid(..) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    error_page(status, format!("Signing in did not work: {error}."))
}

/// An OpenID Connect upstream: redeem the code, verify the ID token, and fill gaps from
/// user-info for the same subject.
async fn oidc_identity(
    app: &AppState,
    provider: &UpstreamProvider,
    flow: &Flow,
    code: &str,
    now: latchkey_core::Timestamp,
) -> Result<federation::UpstreamIdentity, FederationError> {
    let redeemed = redeem(app, provider, flow, code)
        .await
        .map_err(|why| FederationError::Invalid(provider.name.clone(), why))?;
    let mut identity = federation::check_id_token(&redeemed.claims, provider, &flow.nonce, now)?;
    // What the ID token leaves out (e-mail, username), the user-info endpoint may say.
    if identity.email.is_none() || identity.preferred_username.is_none() {
        if let (Some(endpoint), Some(token)) = (&redeemed.userinfo_endpoint, &redeemed.access_token) {
            if let Some(info) = user_info(endpoint, token).await {
                identity.fill_from_userinfo(&info);
            }
        }
    }
    Ok(identity)
}

/// A plain OAuth 2.0 upstream: redeem the code, then ask its user-info endpoint who it is.
async fn plain_identity(
    app: &AppState,
    provider: &UpstreamProvider,
    plain: &federation::PlainOAuth,
    flow: &Flow,
    code: &str,
) -> Result<federation::UpstreamIdentity, FederationError> {
    let bad = |why| FederationError::Invalid(provider.name.clone(), why);
    let tokens = exchange(app, provider, &plain.token_url, flow, code)
        .await
        .map_err(bad)?;
    let token = tokens
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("it sent no access token"))?;
    let info = user_info(&plain.userinfo_url, token)
        .await
        .ok_or_else(|| bad("its user-info answer is not usable"))?;
    plain.identity(&info, &provider.name)
}

async fn user_info(endpoint: &str, token: &str) -> Option<serde_json::Map<String, Value>> {
    let answer = http()
        .get(endpoint)
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, "Latchkey")
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    match answer.json::<Value>().await.ok()? {
        Value::Object(info) => Some(info),
        _ => None,
    }
}

/// The token request (client_secret_basic, PKCE), answered in JSON.
async fn exchange(
    app: &AppState,
    provider: &UpstreamProvider,
    token_url: &str,
    flow: &Flow,
    code: &str,
) -> Result<Value, &'static str> {
    let secret = provider
        .client_secret(app)
        .map_err(|_| "our client secret for it cannot be read")?;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let answer = http()
        .post(token_url)
        .basic_auth(encode(&provider.client_id), Some(encode(&secret)))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &callback_uri(app, provider)),
            ("code_verifier", &flow.verifier),
        ])
        .send()
        .await
        .map_err(|_| "its token endpoint is unreachable")?;
    if !answer.status().is_success() {
        return Err("it refused the code");
    }
    answer.json().await.map_err(|_| "its token response is not JSON")
}

/// A redeemed code: the ID token's verified claims, and what reaches user-info.
struct Redeemed {
    claims: serde_json::Map<String, Value>,
    access_token: Option<String>,
    userinfo_endpoint: Option<String>,
}

/// Redeems the code at the upstream's token endpoint (client_secret_basic, PKCE) and
/// returns the ID token's claims once its signature checks out against the upstream JWKS.
async fn redeem(
    app: &AppState,
    provider: &UpstreamProvider,
    flow: &Flow,
    code: &str,
) -> Result<Redeemed, &'static str> {
    let metadata = metadata(provider).await?;
    let tokens = exchange(app, provider, &metadata.token_endpoint, flow, code).await?;
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("it sent no ID token")?;
    // Keys are reused for a while; a key id not among them fetches them again once
    // (the upstream rotated).
    let mut claims = Err(latchkey_resource::TokenError::UnknownKey);
    for fresh in [false, true] {
        let jwks = fetch_json(&metadata.jwks_uri, fresh)
            .await
            .ok_or("its keys are unreachable")?;
        claims = latchkey_resource::verify_signed(id_token, jwks.to_string().as_bytes());
        if claims != Err(latchkey_resource::TokenError::UnknownKey) {
            break;
        }
    }
    let claims = claims.map_err(|_| "the ID token's signature does not check out")?;
    Ok(Redeemed {
        claims,
        access_token: tokens
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
        userinfo_endpoint: metadata.userinfo_endpoint,
    })
}

/// `POST /account/upstream/unlink`: unlinks one identity, unless it is the account's last
/// way to sign in.
pub(crate) async fn unlink(
    State(app): State<AppState>,
    cookies: Cookies,
    form: Result<OAuthForm, crate::ApiError>,
) -> Response {
    let (params, session, _) = match checked_form(&app, &cookies, form).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let (now, user) = (app.now(), session.user_id);
    let (issuer, subject) = (
        params.get("issuer").unwrap_or_default(),
        params.get("subject").unwrap_or_default(),
    );
    match federation::unlink(&app, &user, issuer, subject, now).await {
        Ok(Ok(())) => see_other("/account", &[]),
        Ok(Err(why)) => error_page(StatusCode::CONFLICT, why),
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}
