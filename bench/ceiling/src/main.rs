//! The benchmark ceiling: the least work any client-credentials token endpoint must do.
//!
//! `latchkey-bench-ceiling 127.0.0.1:PORT` serves `POST /token`, which parses the form body,
//! checks HTTP Basic credentials against one fixed client in constant time, and signs one
//! ES256 access token with a key generated at start-up. No database, no logging, no key
//! rotation: `bench/run` compares Latchkey's token endpoint against this number.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

/// The one registered client; `bench/run` sends these credentials. 32 characters, as long
/// as a Latchkey-generated client id, so the tokens are the same size.
const CLIENT_ID: &str = "ceiling-bench-client-00000000000";
/// Its secret: 43 characters, as long as a Latchkey-generated secret.
const CLIENT_SECRET: &str = "ceiling-secret-0123456789abcdefghijklmnopqr";
/// Scopes the client may ask for; all of them when the request names none.
const ALLOWED_SCOPES: [&str; 2] = ["bench:read", "bench:write"];
/// Access-token lifetime.
const TTL: Duration = Duration::from_secs(900);

/// Everything a request needs, built once.
struct Ceiling {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// The base64url JOSE header, the same for every token.
    header: String,
    /// Issuer and audience.
    issuer: String,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(listen) = std::env::args().nth(1) else {
        eprintln!("usage: latchkey-bench-ceiling 127.0.0.1:PORT");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse()?;

    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let mut kid = [0u8; 12];
    rng.fill(&mut kid)?;
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": URL_SAFE_NO_PAD.encode(kid)});
    let state = Arc::new(Ceiling {
        key,
        rng,
        header: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        issuer: format!("http://{listen}"),
    });

    let app = Router::new().route("/token", post(token)).with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // If the signal handler cannot be installed, run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}

/// `POST /token`: the client-credentials grant and nothing else.
async fn token(State(ceiling): State<Arc<Ceiling>>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_form(&headers) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Some(form) = Form::parse(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !authenticated(&headers) {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"bench\""),
        );
        return response;
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let scope = match form.scope {
        None => ALLOWED_SCOPES.join(" "),
        Some(requested) => {
            if requested.split(' ').any(|s| !ALLOWED_SCOPES.contains(&s)) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
            }
            requested
        }
    };
    match ceiling.sign(&scope) {
        Some(access_token) => no_store(
            StatusCode::OK,
            json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TTL.as_secs(),
                "scope": scope,
            }),
        ),
        None => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

impl Ceiling {
    /// Signs one access token (RFC 9068 claims) for the bench client.
    fn sign(&self, scope: &str) -> Option<String> {
        let now = unix_now()?;
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).ok()?;
        let claims = json!({
            "iss": self.issuer,
            "sub": CLIENT_ID,
            "aud": self.issuer,
            "client_id": CLIENT_ID,
            "exp": now + TTL.as_secs(),
            "iat": now,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "scope": scope,
        });
        let mut jwt = self.header.clone();
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).ok()?));
        let signature = self.key.sign(&self.rng, jwt.as_bytes()).ok()?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Some(jwt)
    }
}

/// Seconds since the epoch.
#[expect(
    clippy::disallowed_methods,
    reason = "the ceiling has no injected Clock; it needs wall-clock time for iat and exp"
)]
fn unix_now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Whether the body is declared `application/x-www-form-urlencoded` (parameters allowed).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether the `Authorization: Basic` header names the bench client with its secret
/// (RFC 6749 §2.3.1: both parts form-urlencoded, then base64).
fn authenticated(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = std::str::from_utf8(&decoded) else {
        return false;
    };
    let Some((id, secret)) = decoded.split_once(':') else {
        return false;
    };
    let (Some(id), Some(secret)) = (form_decode(id), form_decode(secret)) else {
        return false;
    };
    id == CLIENT_ID && verify_slices_are_equal(secret.as_bytes(), CLIENT_SECRET.as_bytes()).is_ok()
}

/// The token-request parameters the ceiling reads.
struct Form {
    grant_type: Option<String>,
    scope: Option<String>,
}

impl Form {
    /// Parses a form body; `None` if it is malformed or repeats a parameter (RFC 6749 §3.2).
    fn parse(body: &[u8]) -> Option<Self> {
        let body = std::str::from_utf8(body).ok()?;
        let mut form = Self {
            grant_type: None,
            scope: None,
        };
        for pair in body.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match form_decode(name)?.as_str() {
                "grant_type" => &mut form.grant_type,
                "scope" => &mut form.scope,
                _ => continue,
            };
            if slot.replace(form_decode(value)?).is_some() {
                return None;
            }
        }
        Some(form)
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn form_decode(input: &str) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = bytes.next().and_then(hex_digit)?;
                let low = bytes.next().and_then(hex_digit)?;
                out.push(high << 4 | low);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// An OAuth error body (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    no_store(status, json!({ "error": error }))
}

/// A JSON response that caches must not keep (RFC 6749 §5.1).
fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
