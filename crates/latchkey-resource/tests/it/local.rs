//! Local verification of real Latchkey tokens.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_resource::{DiscoveryError, LatchkeyAuth};
use serde_json::{Value, json};

use crate::support::{AUDIENCE, Issuer, NotesApi, bearer};

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_latchkey_token_reaches_the_handler_with_its_claims() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;
    let token = issuer.token(&client).await;

    let answer = api.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["sub"], client.id.as_str());
    assert_eq!(answer.body["client_id"], client.id.as_str());
    assert_eq!(answer.body["scope"], json!(["notes:read"]));
    assert_eq!(answer.body["jti"], decode_part(&token, 1)["jti"]);
    assert_eq!(answer.body["exp"], decode_part(&token, 1)["exp"]);
    assert_eq!(issuer.jwks_requests(), 1, "fetched once, at discovery");
}

#[tokio::test]
async fn requests_without_a_token_or_the_scope_or_with_one_in_the_url_are_refused() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;
    let token = issuer.token(&client).await;

    let answer = api.list(None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.challenge.as_deref(), Some(r#"Bearer realm="notes""#));

    let answer = api.create(&token).await;
    assert_eq!(answer.status, 403);
    let challenge = answer.challenge.unwrap();
    assert!(challenge.contains(r#"error="insufficient_scope""#), "{challenge}");
    assert!(challenge.ends_with(r#"scope="notes:write""#), "{challenge}");
    assert_eq!(answer.body["error"], "insufficient_scope");

    let answer = api.get(&format!("/notes?access_token={token}")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"], "invalid_request");

    let answer = api.list(Some(&format!("Bearer {token} {token}"))).await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn the_library_clock_decides_expiry() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, library_clock) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;
    let token = issuer.token(&client).await;

    // Latchkey's access tokens live 15 minutes; the leeway adds 60 s.
    library_clock.advance(Duration::from_secs(900 + 59));
    assert_eq!(api.list(Some(&bearer(&token))).await.status, 200);
    library_clock.advance(Duration::from_secs(1));
    let answer = api.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error_description"], "the access token has expired");
    assert!(answer.challenge.unwrap().contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let billing = issuer
        .alongside(|config| config.default_audience = "https://billing.example".into())
        .await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;

    let token = billing.token(&client).await;
    assert_eq!(decode_part(&token, 1)["aud"], "https://billing.example");
    let answer = api.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body["error_description"],
        "the access token is not meant for this API (audience)"
    );
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_even_when_signed_by_a_known_key() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let other = issuer
        .alongside(|config| config.issuer = "https://other-issuer.example".into())
        .await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;

    let token = other.token(&client).await;
    assert_eq!(
        decode_part(&token, 0)["kid"],
        decode_part(&issuer.token(&client).await, 0)["kid"]
    );
    let answer = api.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body["error_description"],
        "the access token was issued by another authorization server"
    );
}

#[tokio::test]
async fn tampered_and_unsigned_tokens_are_refused() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;
    let token = issuer.token(&client).await;
    let parts: Vec<&str> = token.split('.').collect();

    let mut claims = decode_part(&token, 1);
    claims["scope"] = json!("notes:read notes:write");
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);
    let answer = api.create(&tampered).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body["error_description"],
        "the access token's signature is invalid"
    );

    let mut header = decode_part(&token, 0);
    header["alg"] = json!("none");
    let unsigned = format!("{}.{}.", encode_part(&header), encode_part(&claims));
    let answer = api.create(&unsigned).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error"], "invalid_token");
    assert_eq!(
        answer.body["error_description"],
        "the access token is signed with an algorithm this API does not accept"
    );
    assert_eq!(
        issuer.jwks_requests(),
        1,
        "no refetch for forgeries naming a known kid"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_accepted() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, _) = issuer.auth(|b| b).await;
    let api = NotesApi::serve(auth).await;
    let before = issuer.token(&client).await;
    assert_eq!(api.list(Some(&bearer(&before))).await.status, 200);
    assert_eq!(issuer.jwks_requests(), 1);

    issuer.rotate_key().await;
    let after = issuer.token(&client).await;
    assert_ne!(decode_part(&after, 0)["kid"], decode_part(&before, 0)["kid"]);
    assert_eq!(api.list(Some(&bearer(&after))).await.status, 200);
    assert_eq!(issuer.jwks_requests(), 2, "one refetch for the new kid");
    for _ in 0..5 {
        assert_eq!(
            api.list(Some(&bearer(&issuer.token(&client).await))).await.status,
            200
        );
    }
    assert_eq!(
        api.list(Some(&bearer(&before))).await.status,
        200,
        "the retired key is still published"
    );
    assert_eq!(issuer.jwks_requests(), 2, "and no more");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_the_issuer_one_jwks_request() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let (auth, _) = issuer.auth(|b| b).await;
    let token = issuer.token(&client).await;
    let mut header = decode_part(&token, 0);
    for i in 0..20 {
        header["kid"] = json!(format!("made-up-{i}"));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", encode_part(&header), parts[1], parts[2]);
        assert!(auth.verify(&forged).await.is_err());
    }
    assert_eq!(issuer.jwks_requests(), 2, "discovery, then one refetch");
}

#[tokio::test]
async fn discovery_insists_on_the_exact_issuer() {
    let issuer = Issuer::start().await;
    let result = LatchkeyAuth::discover(format!("{}/", issuer.base), AUDIENCE).await;
    assert!(
        matches!(result, Err(DiscoveryError::IssuerMismatch { .. })),
        "{result:?}"
    );
}
