//! Local ES256 verification of a real Latchkey access token with a warm JWKS cache: the
//! cost every protected request pays in the default mode. The issue's target is at least
//! 20,000 verifications per second per core, i.e. at most 50 µs each.
//!
//! - `es256_warm_jwks`: a full verification (verified-token cache off): parse, key lookup,
//!   signature, claims.
//! - `es256_same_token_again`: the default, a token already verified (the common case: a
//!   client sends one token for its whole life).
//! - `refused_unknown_kid`: a flood of tokens naming keys that do not exist.
//! - `require_scope_request`: a whole axum request through `RequireScope`, cache off.
//! - `baseline_aws_lc_verify_sig`: aws-lc-rs alone, the floor for a full verification.
//!
//! `cargo bench -p latchkey-resource --bench verify`

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark set-up: a failed step is a failed run"
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_core::registry::{self, ClientRegistration};
use latchkey_core::secret::{MasterKey, SecretHasher};
use latchkey_core::{AuthConfig, Clock as _, Context, SystemClock};
use latchkey_resource::{LatchkeyAuth, RequireScope, scope};
use tower::ServiceExt as _;

scope!(NotesRead = "notes:read");

struct Setup {
    runtime: tokio::runtime::Runtime,
    /// The verified-token cache off: every call verifies the signature.
    auth: LatchkeyAuth,
    /// The defaults.
    cached: LatchkeyAuth,
    token: String,
    _database: tempfile::TempDir,
}

/// A Latchkey server on 127.0.0.1:0, a client-credentials token from it, and the library
/// after discovery.
fn setup() -> Setup {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", database.path().join("lk.db").display());
    let (auth, cached, token) = runtime.block_on(async {
        let store = latchkey_store::connect(&url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = AuthConfig::with_defaults(&base);
        config.default_audience = "https://notes.example".into();
        let master = MasterKey::generate();
        let context = Arc::new(
            Context::start(config, store, Arc::new(SystemClock), &master)
                .await
                .unwrap(),
        );
        let registration = ClientRegistration {
            name: "bench".into(),
            scopes: vec!["notes:read".into(), "notes:write".into(), "profile".into()],
            ..Default::default()
        };
        let (client, secret) = registry::register_client(
            context.store.as_ref(),
            &SecretHasher::new(&master),
            &registration,
            SystemClock.now(),
        )
        .await
        .unwrap();
        let app = latchkey_server::router(latchkey_server::AppState::new(context))
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/oauth2/token"))
            .basic_auth(client.id.to_string(), Some(secret.unwrap().expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = response["access_token"].as_str().unwrap().to_owned();
        let cached = LatchkeyAuth::discover(&base, "https://notes.example")
            .await
            .unwrap();
        let auth = LatchkeyAuth::builder(&base, "https://notes.example")
            .verified_cache_capacity(0)
            .discover()
            .await
            .unwrap();
        (auth, cached, token)
    });
    Setup {
        runtime,
        auth,
        cached,
        token,
        _database: database,
    }
}

fn verify(c: &mut Criterion) {
    let setup = setup();
    let Setup {
        runtime,
        auth,
        cached,
        token,
        ..
    } = &setup;
    assert!(runtime.block_on(auth.verify(token)).is_ok());
    println!("token: {} bytes", token.len());

    let mut group = c.benchmark_group("verify");
    group.bench_function("es256_warm_jwks", |b| {
        b.iter(|| runtime.block_on(auth.verify(black_box(token))).unwrap())
    });
    group.bench_function("es256_same_token_again", |b| {
        b.iter(|| runtime.block_on(cached.verify(black_box(token))).unwrap())
    });

    // What a flood of tokens naming unknown keys costs once the refetch is rate-limited.
    let mut parts = token.splitn(2, '.');
    let (_, rest) = (parts.next().unwrap(), parts.next().unwrap());
    let header = r#"{"alg":"ES256","typ":"at+jwt","kid":"no-such-key"}"#;
    let forged = format!("{}.{rest}", base64_url(header.as_bytes()));
    let _ = runtime.block_on(auth.verify(&forged));
    group.bench_function("refused_unknown_kid", |b| {
        b.iter(|| runtime.block_on(auth.verify(black_box(&forged))).unwrap_err())
    });

    // The whole extractor path: header parsing, verification, scope check, handler.
    let app = axum::Router::new()
        .route("/notes", get(|_: RequireScope<NotesRead>| async { "ok" }))
        .with_state(auth.clone());
    let authorization = format!("Bearer {token}");
    group.bench_function("require_scope_request", |b| {
        b.iter(|| {
            let request = Request::get("/notes")
                .header("authorization", &authorization)
                .body(Body::empty())
                .unwrap();
            let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
            assert_eq!(response.status(), 200);
        })
    });

    // The floor: aws-lc-rs alone verifying an ES256 signature over an input of the same
    // length with a pre-parsed key. The difference to es256_warm_jwks is this crate's.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
    let message = token.rsplit_once('.').unwrap().0.as_bytes();
    let signature = pair.sign(&rng, message).unwrap();
    let public = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref(),
    )
    .unwrap();
    group.bench_function("baseline_aws_lc_verify_sig", |b| {
        b.iter(|| {
            public
                .verify_sig(black_box(message), black_box(signature.as_ref()))
                .unwrap()
        })
    });
    group.finish();
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = verify
}
criterion_main!(benches);
