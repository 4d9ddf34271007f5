//! The HTTP answers (RFC 6750 §3) through a small axum app, with the extractors and with
//! the layer.

use std::sync::Arc;

use axum::body::Body;
use axum::handler::Handler as _;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::fixtures::{FakeIssuer, NOW, TestClock, TestKey, auth, auth_with, claims, claims_with};
use crate::{LatchkeyAuth, RequireScope, Verified};

crate::scope! {
    NotesRead = "notes:read";
    NotesWrite = "notes:write";
}

async fn whoami(claims: Verified) -> Json<Value> {
    Json(json!({"sub": claims.subject, "scope": claims.scopes, "jti": claims.jti}))
}

async fn list_notes(claims: RequireScope<NotesRead>) -> String {
    format!("notes of {}", claims.subject)
}

async fn create_note(_read: RequireScope<NotesRead>, claims: RequireScope<NotesWrite>) -> String {
    format!("created by {}", claims.subject)
}

async fn layered(Extension(claims): Extension<Verified>) -> String {
    format!("layered for {}", claims.subject)
}

fn app(auth: LatchkeyAuth) -> Router {
    Router::new()
        .route("/me", get(whoami))
        .route("/notes", get(list_notes).post(create_note))
        .route(
            "/layered",
            get(layered.layer(auth.require_scope("notes:read")))
                .post(layered.layer(auth.require_scope("notes:write"))),
        )
        .route("/any", get(layered).route_layer(auth.require_token()))
        .with_state(auth)
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
    text: String,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
        text,
    }
}

fn get_with(path: &str, authorization: &[&str]) -> Request<Body> {
    let mut request = Request::get(path);
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    request.body(Body::empty()).unwrap()
}

fn post_with(path: &str, token: &str) -> Request<Body> {
    Request::post(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

struct Setup {
    app: Router,
    key: TestKey,
    clock: TestClock,
    issuer: Arc<FakeIssuer>,
}

fn setup() -> Setup {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let app = app(auth(&issuer, &clock));
    Setup {
        app,
        key,
        clock,
        issuer,
    }
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let s = setup();
    let token = s.key.token(&claims());
    let answer = send(&s.app, get_with("/me", &[&format!("Bearer {token}")])).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        json!({"sub": "user-1", "scope": ["notes:read", "profile"], "jti": "jti-1"})
    );
    let answer = send(&s.app, get_with("/notes", &[&format!("Bearer {token}")])).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "notes of user-1")
    );
}

#[tokio::test]
async fn no_token_is_a_401_whose_challenge_names_only_the_realm() {
    let s = setup();
    let answer = send(&s.app, get_with("/notes", &[])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="https://notes.example""#)
    );
    assert_eq!(answer.body["error"], "invalid_token");
    let basic = send(&s.app, get_with("/notes", &["Basic dXNlcjpwYXNz"])).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.challenge, answer.challenge);
}

#[tokio::test]
async fn a_bad_or_expired_token_is_a_401_invalid_token_with_a_description() {
    let s = setup();
    let token = s.key.token(&claims());
    s.clock.set(NOW + 900 + 60);
    let answer = send(&s.app, get_with("/notes", &[&format!("Bearer {token}")])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer realm="https://notes.example", error="invalid_token", error_description="the access token has expired""#
        )
    );
    assert_eq!(
        answer.body,
        json!({"error": "invalid_token", "error_description": "the access token has expired"})
    );
    let garbage = send(&s.app, get_with("/notes", &["Bearer abc.def.ghi"])).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.body["error"], "invalid_token");
}

#[tokio::test]
async fn a_token_without_the_scope_is_a_403_naming_the_scope() {
    let s = setup();
    let token = s.key.token(&claims());
    let answer = send(&s.app, post_with("/notes", &token)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer realm="https://notes.example", error="insufficient_scope", error_description="the access token lacks the notes:write scope", scope="notes:write""#
        )
    );
    assert_eq!(answer.body["error"], "insufficient_scope");

    let writer = s
        .key
        .token(&claims_with(|c| c["scope"] = json!("notes:read notes:write")));
    let answer = send(&s.app, post_with("/notes", &writer)).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "created by user-1")
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_400_invalid_request() {
    let s = setup();
    let token = s.key.token(&claims());
    let two = format!("Bearer {token}");
    let cases: [&[&str]; 5] = [
        &[&two, &two],
        &[&format!("Bearer {token} {token}")],
        &["Bearer"],
        &["Bearer a\"b"],
        &["{junk} with spaces"],
    ];
    for authorization in cases {
        let answer = send(&s.app, get_with("/notes", authorization)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{authorization:?}");
        assert_eq!(answer.body["error"], "invalid_request");
        let challenge = answer.challenge.unwrap();
        assert!(challenge.starts_with(r#"Bearer realm="https://notes.example", error="invalid_request""#));
    }
}

#[tokio::test]
async fn tokens_in_the_query_or_a_form_body_are_400_invalid_request() {
    let s = setup();
    let token = s.key.token(&claims());
    let answer = send(&s.app, get_with(&format!("/notes?access_token={token}"), &[])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"], "invalid_request");
    let both = send(
        &s.app,
        get_with(
            &format!("/notes?access_token={token}"),
            &[&format!("Bearer {token}")],
        ),
    )
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);

    let form = Request::post("/notes")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("access_token={token}&title=hi")))
        .unwrap();
    let answer = send(&s.app, form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"], "invalid_request");
}

#[tokio::test]
async fn the_layer_guards_routes_and_hands_the_claims_on() {
    let s = setup();
    let reader = format!("Bearer {}", s.key.token(&claims()));
    let answer = send(&s.app, get_with("/layered", &[&reader])).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "layered for user-1")
    );
    let post = Request::post("/layered")
        .header(AUTHORIZATION, &reader)
        .body(Body::empty())
        .unwrap();
    let answer = send(&s.app, post).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.challenge.unwrap().ends_with(r#"scope="notes:write""#));
    assert_eq!(
        send(&s.app, get_with("/layered", &[])).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&s.app, get_with("/any", &[&reader])).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&s.app, get_with("/any", &[])).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_without_a_challenge() {
    let s = setup();
    s.issuer.set_jwks_down(true);
    let stranger = TestKey::es256("rotated").token(&claims());
    let answer = send(&s.app, get_with("/notes", &[&format!("Bearer {stranger}")])).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.challenge, None);
    assert_eq!(answer.body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn a_configured_realm_is_quoted_in_every_challenge() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), false, |b| b.realm(r#"notes "api""#));
    let answer = send(&app(auth), get_with("/notes", &[])).await;
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="notes \"api\"""#)
    );
}
