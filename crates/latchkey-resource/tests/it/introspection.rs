//! Introspection mode against a real Latchkey: revocations take effect within the cache
//! lifetime.

use std::time::Duration;

use crate::support::{Issuer, NotesApi, bearer};

#[tokio::test]
async fn a_revoked_token_is_refused_in_introspection_mode_once_the_cache_expires() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let api_client = issuer.service_client("notes-api", &[]).await;
    let (introspecting, library_clock) = issuer
        .auth(|b| b.introspection(&api_client.id, &api_client.secret))
        .await;
    let (local, _) = issuer.auth(|b| b).await;
    let strict = NotesApi::serve(introspecting).await;
    let lenient = NotesApi::serve(local).await;
    let token = issuer.token(&client).await;

    let answer = strict.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["sub"], client.id.as_str());

    issuer.revoke(&client, &token).await;
    assert_eq!(
        strict.list(Some(&bearer(&token))).await.status,
        200,
        "the 5 s cache still answers"
    );
    library_clock.advance(Duration::from_secs(5));
    let answer = strict.list(Some(&bearer(&token))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body["error_description"],
        "the access token is not active (revoked or expired)"
    );
    assert!(answer.challenge.unwrap().contains(r#"error="invalid_token""#));

    // Local verification cannot see the revocation: the token is good until it expires.
    assert_eq!(lenient.list(Some(&bearer(&token))).await.status, 200);
}

#[tokio::test]
async fn with_no_cache_a_revocation_is_seen_at_once() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let api_client = issuer.service_client("notes-api", &[]).await;
    let (auth, _) = issuer
        .auth(|b| {
            b.introspection(&api_client.id, &api_client.secret)
                .introspection_cache_ttl(Duration::ZERO)
        })
        .await;
    let api = NotesApi::serve(auth).await;
    let token = issuer.token(&client).await;
    assert_eq!(api.list(Some(&bearer(&token))).await.status, 200);
    issuer.revoke(&client, &token).await;
    assert_eq!(api.list(Some(&bearer(&token))).await.status, 401);
}

#[tokio::test]
async fn wrong_introspection_credentials_answer_503_not_401() {
    let issuer = Issuer::start().await;
    let client = issuer.service_client("svc", &["notes:read"]).await;
    let api_client = issuer.service_client("notes-api", &[]).await;
    let (auth, _) = issuer
        .auth(|b| b.introspection(&api_client.id, "not-the-secret"))
        .await;
    let api = NotesApi::serve(auth).await;
    let answer = api.list(Some(&bearer(&issuer.token(&client).await))).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.challenge, None);
    assert_eq!(answer.body["error"], "temporarily_unavailable");
}
