//! The demo's **client**: a server-side web app that signs its user in through Latchkey
//! with the authorization-code flow and PKCE, calls the notes API with the access token,
//! refreshes it when it expires, and signs out by revoking the refresh token.
//!
//! ```text
//! LATCHKEY_ISSUER=http://127.0.0.1:8080 WEB_CLIENT_ID=... WEB_CLIENT_SECRET=... \
//! NOTES_API=http://127.0.0.1:9090 cargo run -p latchkey-web-app      # http://127.0.0.1:3000
//! ```
//!
//! Tokens stay on the server (in memory, keyed by a random session cookie); the browser
//! never sees them. That is the point of a confidential client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse as _, TokenUrl,
};
use serde::Deserialize;
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What the app keeps per signed-in browser.
struct Tokens {
    access: String,
    refresh: Option<String>,
    expires: Instant,
    user: String,
}

struct App {
    oauth: Client,
    http: reqwest::Client,
    issuer: String,
    notes_api: String,
    revocation_endpoint: Option<String>,
    client_id: String,
    client_secret: String,
    /// Sign-ins in progress: state → (PKCE verifier, nonce).
    pending: Mutex<HashMap<String, PkceCodeVerifier>>,
    sessions: Mutex<HashMap<String, Tokens>>,
}

fn env(name: &str, default: Option<&str>) -> Result<String, Error> {
    std::env::var(name)
        .ok()
        .or(default.map(str::to_owned))
        .ok_or_else(|| format!("set {name}").into())
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let issuer = env("LATCHKEY_ISSUER", Some("http://127.0.0.1:8080"))?;
    let listen = env("WEB_LISTEN", Some("127.0.0.1:3000"))?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let endpoint = |name: &str| {
        metadata
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(format!("no {name} in discovery"))
    };
    let client_id = env("WEB_CLIENT_ID", None)?;
    let client_secret = env("WEB_CLIENT_SECRET", None)?;
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_client_secret(ClientSecret::new(client_secret.clone()))
        .set_auth_uri(AuthUrl::new(endpoint("authorization_endpoint")?)?)
        .set_token_uri(TokenUrl::new(endpoint("token_endpoint")?)?)
        .set_redirect_uri(RedirectUrl::new(format!("http://{listen}/callback"))?);
    let app = Arc::new(App {
        oauth,
        http,
        issuer: issuer.clone(),
        notes_api: env("NOTES_API", Some("http://127.0.0.1:9090"))?,
        revocation_endpoint: endpoint("revocation_endpoint").ok(),
        client_id,
        client_secret,
        pending: Mutex::default(),
        sessions: Mutex::default(),
    });
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/notes", post(add_note))
        .route("/logout", post(logout))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("web app on http://{listen} (signing in through {issuer})");
    axum::serve(listener, router).await?;
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> Response {
    Html(format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>\
         <title>Notes demo</title><body style='font:16px system-ui;max-width:34rem;margin:2rem auto;padding:0 1rem'>\
         <h1>Notes demo</h1>{body}</body>"
    ))
    .into_response()
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("demo_session="))
        .map(str::to_owned)
        .next()
}

fn random() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CsrfToken::new_random().secret())
}

/// A fresh access token for this browser, refreshing it if it is about to expire.
async fn access_token(app: &App, session: &str) -> Option<String> {
    let (access, refresh, expires) = {
        let sessions = app.sessions.lock().ok()?;
        let t = sessions.get(session)?;
        (t.access.clone(), t.refresh.clone(), t.expires)
    };
    if expires > Instant::now() + Duration::from_secs(30) {
        return Some(access);
    }
    // Rotate: the new refresh token replaces the old one, which Latchkey now refuses.
    let refreshed = app
        .oauth
        .exchange_refresh_token(&RefreshToken::new(refresh?))
        .request_async(&app.http)
        .await
        .ok()?;
    let mut sessions = app.sessions.lock().ok()?;
    let t = sessions.get_mut(session)?;
    t.access = refreshed.access_token().secret().clone();
    t.refresh = refreshed
        .refresh_token()
        .map(|r| r.secret().clone())
        .or(t.refresh.take());
    t.expires = Instant::now() + refreshed.expires_in().unwrap_or(Duration::from_secs(60));
    println!("refreshed an access token (the refresh token rotated)");
    Some(t.access.clone())
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(session) = session_id(&headers) else {
        return page("<p>You are not signed in.</p><p><a href='/login'>Sign in with Latchkey</a></p>");
    };
    let user = app
        .sessions
        .lock()
        .ok()
        .and_then(|s| s.get(&session).map(|t| t.user.clone()));
    let (Some(user), Some(token)) = (user, access_token(&app, &session).await) else {
        return page("<p>Your session ended.</p><p><a href='/login'>Sign in with Latchkey</a></p>");
    };
    let notes = match app
        .http
        .get(format!("{}/notes", app.notes_api))
        .bearer_auth(&token)
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => response.json::<Value>().await.unwrap_or_default(),
        Ok(response) => return page(&format!("<p>The notes API said {}.</p>", response.status())),
        Err(error) => {
            return page(&format!(
                "<p>The notes API is unreachable: {}</p>",
                escape(&error.to_string())
            ));
        }
    };
    let items: String = notes
        .get("notes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|n| n.get("text").and_then(Value::as_str))
                .map(|t| format!("<li>{}</li>", escape(t)))
                .collect()
        })
        .unwrap_or_default();
    page(&format!(
        "<p>Signed in as <strong id=user>{}</strong>.</p><h2>Your notes</h2><ul id=notes>{items}</ul>\
         <form method=post action=/notes><input name=text required placeholder='A new note'> \
         <button type=submit>Add</button></form>\
         <form method=post action=/logout><button type=submit>Sign out</button></form>",
        escape(&user)
    ))
}

async fn login(State(app): State<Arc<App>>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = app
        .oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("notes:read".into()))
        .add_scope(Scope::new("notes:write".into()))
        .set_pkce_challenge(challenge)
        .url();
    if let Ok(mut pending) = app.pending.lock() {
        pending.insert(state.secret().clone(), verifier);
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

async fn callback(State(app): State<Arc<App>>, Query(query): Query<Callback>) -> Response {
    if let Some(error) = query.error {
        return page(&format!(
            "<p>Sign-in failed: {}.</p><p><a href='/'>Back</a></p>",
            escape(&error)
        ));
    }
    // RFC 9207: the response must come from our issuer (mix-up defence).
    if query.iss.as_deref() != Some(app.issuer.as_str()) {
        return (StatusCode::BAD_REQUEST, "unexpected issuer").into_response();
    }
    let verifier = query
        .state
        .and_then(|state| app.pending.lock().ok()?.remove(&state));
    let (Some(verifier), Some(code)) = (verifier, query.code) else {
        return (StatusCode::BAD_REQUEST, "unknown or reused state").into_response();
    };
    let tokens = match app
        .oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
    {
        Ok(tokens) => tokens,
        Err(error) => {
            return page(&format!(
                "<p>Token exchange failed: {}</p>",
                escape(&error.to_string())
            ));
        }
    };
    let access = tokens.access_token().secret().clone();
    let user = claims(&access)
        .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let session = random();
    if let Ok(mut sessions) = app.sessions.lock() {
        sessions.insert(
            session.clone(),
            Tokens {
                access,
                refresh: tokens.refresh_token().map(|r| r.secret().clone()),
                expires: Instant::now() + tokens.expires_in().unwrap_or(Duration::from_secs(60)),
                user,
            },
        );
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = format!("demo_session={session}; Path=/; HttpOnly; SameSite=Lax").parse() {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// The claims of a JWT, unverified: fine for display, never for decisions (the API verifies).
fn claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?,
    )
    .ok()
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

async fn add_note(State(app): State<Arc<App>>, headers: HeaderMap, Form(note): Form<NewNote>) -> Response {
    let Some(session) = session_id(&headers) else {
        return Redirect::to("/").into_response();
    };
    if let Some(token) = access_token(&app, &session).await {
        let _ = app
            .http
            .post(format!("{}/notes", app.notes_api))
            .bearer_auth(token)
            .json(&serde_json::json!({"text": note.text}))
            .send()
            .await;
    }
    Redirect::to("/").into_response()
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(session) = session_id(&headers) {
        let tokens = app.sessions.lock().ok().and_then(|mut s| s.remove(&session));
        // RFC 7009: revoke the refresh token, so the grant ends at Latchkey too.
        if let (Some(tokens), Some(endpoint)) = (tokens, &app.revocation_endpoint) {
            if let Some(refresh) = tokens.refresh {
                let _ = app
                    .http
                    .post(endpoint)
                    .basic_auth(&app.client_id, Some(&app.client_secret))
                    .form(&[("token", refresh.as_str()), ("token_type_hint", "refresh_token")])
                    .send()
                    .await;
            }
        }
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = "demo_session=; Path=/; Max-Age=0".parse() {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}
