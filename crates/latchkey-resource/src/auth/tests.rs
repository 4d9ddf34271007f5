//! Local verification and introspection, against a fake issuer and a pinned clock.

use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::{Value, json};

use crate::error::TokenError;
use crate::fixtures::{
    AUDIENCE, FakeIssuer, ISSUER, NOW, TestClock, TestKey, auth, auth_with, b64, claims, claims_with,
    signing_input,
};

async fn refusal(auth: &crate::LatchkeyAuth, token: &str) -> TokenError {
    auth.verify(token).await.expect_err("the token should be refused")
}

#[tokio::test]
async fn a_valid_token_verifies_and_yields_its_claims() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    let claims = auth.verify(&key.token(&claims())).await.unwrap();
    assert_eq!(claims.subject, "user-1");
    assert_eq!(claims.client_id, "client-1");
    assert_eq!(claims.scopes, ["notes:read", "profile"]);
    assert_eq!(claims.jti.as_deref(), Some("jti-1"));
    assert_eq!(claims.expires_at, NOW + 900);
    assert_eq!(claims.audience, [AUDIENCE]);
    assert!(claims.has_scope("notes:read") && !claims.has_scope("notes"));
}

#[tokio::test]
async fn the_users_roles_are_exposed_from_the_configured_claim() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let issuer = FakeIssuer::new(&[&key]);
    let token = key.token(&claims_with(|c| {
        c["roles"] = json!(["editor", 7, "viewer"]);
        c["groups"] = json!(["staff"]);
    }));
    let verified = auth(&issuer, &clock).verify(&token).await.unwrap();
    assert_eq!(verified.roles, ["editor", "viewer"], "strings only");
    assert!(verified.has_role("editor") && !verified.has_role("admin"));
    let renamed = auth_with(&issuer, &clock, false, |b| b.roles_claim("groups"));
    assert_eq!(renamed.verify(&token).await.unwrap().roles, ["staff"]);
    let plain = auth(&issuer, &clock).verify(&key.token(&claims())).await.unwrap();
    assert!(plain.roles.is_empty());
}

#[tokio::test]
async fn an_rs256_token_verifies_against_an_rsa_jwk() {
    let key = TestKey::rs256("rsa");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    assert!(auth.verify(&key.token(&claims())).await.is_ok());
}

#[tokio::test]
async fn expiry_is_checked_with_the_leeway_to_the_second() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let auth = auth(&FakeIssuer::new(&[&key]), &clock);
    let token = key.token(&claims_with(|c| c["exp"] = json!(NOW)));
    clock.set(NOW + 59);
    assert!(auth.verify(&token).await.is_ok(), "within the 60 s leeway");
    clock.set(NOW + 60);
    assert_eq!(refusal(&auth, &token).await, TokenError::Expired);
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused_beyond_the_leeway() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let auth = auth(&FakeIssuer::new(&[&key]), &clock);
    let token = key.token(&claims_with(|c| c["nbf"] = json!(NOW + 100)));
    clock.set(NOW + 39);
    assert_eq!(refusal(&auth, &token).await, TokenError::NotYetValid);
    clock.set(NOW + 40);
    assert!(auth.verify(&token).await.is_ok(), "nbf within the leeway");
}

#[tokio::test]
async fn the_leeway_is_configurable() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let issuer = FakeIssuer::new(&[&key]);
    let strict = auth_with(&issuer, &clock, false, |b| b.leeway(Duration::ZERO));
    let token = key.token(&claims_with(|c| c["exp"] = json!(NOW + 1)));
    assert!(strict.verify(&token).await.is_ok());
    clock.set(NOW + 1);
    assert_eq!(refusal(&strict, &token).await, TokenError::Expired);
}

#[tokio::test]
async fn the_audience_must_contain_this_api_as_a_string_or_in_an_array() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    let other = key.token(&claims_with(|c| c["aud"] = json!("https://billing.example")));
    assert_eq!(refusal(&auth, &other).await, TokenError::WrongAudience);
    let others = key.token(&claims_with(|c| {
        c["aud"] = json!(["https://a.example", "https://b.example"])
    }));
    assert_eq!(refusal(&auth, &others).await, TokenError::WrongAudience);
    let prefix = key.token(&claims_with(|c| c["aud"] = json!("https://notes.example/")));
    assert_eq!(refusal(&auth, &prefix).await, TokenError::WrongAudience);
    let among = key.token(&claims_with(|c| {
        c["aud"] = json!(["https://a.example", AUDIENCE])
    }));
    let verified = auth.verify(&among).await.unwrap();
    assert_eq!(verified.audience, ["https://a.example", AUDIENCE]);
}

#[tokio::test]
async fn the_issuer_must_match_exactly() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    for iss in [
        "https://evil.example",
        "https://id.example.com/",
        "HTTPS://id.example.com",
    ] {
        let token = key.token(&claims_with(|c| c["iss"] = json!(iss)));
        assert_eq!(refusal(&auth, &token).await, TokenError::WrongIssuer, "{iss}");
    }
}

#[tokio::test]
async fn a_tampered_payload_or_signature_is_refused() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    let token = key.token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = claims_with(|c| c["scope"] = json!("notes:read notes:write admin"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(refusal(&auth, &forged).await, TokenError::BadSignature);

    let mut signature = crate::jwt::b64url_decode(parts[2]).unwrap();
    signature[10] ^= 0x01;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    assert_eq!(refusal(&auth, &flipped).await, TokenError::BadSignature);
    let truncated = format!("{}.{}.{}", parts[0], parts[1], b64(&signature[..63]));
    assert_eq!(refusal(&auth, &truncated).await, TokenError::BadSignature);
    let empty = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(refusal(&auth, &empty).await, TokenError::BadSignature);
}

#[tokio::test]
async fn alg_none_is_never_accepted() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    for alg in ["none", "None", "NONE", ""] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": "k1"});
        let token = format!("{}.", signing_input(&header, &claims()));
        assert_eq!(
            refusal(&auth, &token).await,
            TokenError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    let jwk = key.jwk();
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"});
    let input = signing_input(&header, &claims());
    // Every way an attacker might turn the public key into an HMAC secret.
    let secrets: [Vec<u8>; 3] = [
        jwk.to_string().into_bytes(),
        crate::jwt::b64url_decode(jwk["x"].as_str().unwrap()).unwrap(),
        jwk["x"].as_str().unwrap().as_bytes().to_vec(),
    ];
    for secret in secrets {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &secret), input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(refusal(&auth, &token).await, TokenError::UnsupportedAlgorithm);
    }
    for alg in ["HS384", "HS512", "ES384", "PS256", "EdDSA"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": "k1"});
        let token = format!("{}.AAAA", signing_input(&header, &claims()));
        assert_eq!(
            refusal(&auth, &token).await,
            TokenError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn a_header_alg_other_than_the_keys_is_refused() {
    let ec = TestKey::es256("ec");
    let rsa = TestKey::rs256("rsa");
    let auth = auth(&FakeIssuer::new(&[&ec, &rsa]), &TestClock::new());
    // Signed by the EC key, claiming to be the RSA key's token with the EC algorithm.
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "rsa"});
    assert_eq!(
        refusal(&auth, &ec.sign(&header, &claims())).await,
        TokenError::AlgorithmMismatch
    );
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "ec"});
    assert_eq!(
        refusal(&auth, &rsa.sign(&header, &claims())).await,
        TokenError::AlgorithmMismatch
    );
}

#[tokio::test]
async fn jwks_whose_alg_or_key_type_do_not_fit_are_not_used() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let mismatched = |edit: fn(&mut Value)| {
        let mut jwk = key.jwk();
        edit(&mut jwk);
        json!({ "keys": [jwk] })
    };
    let cases: [fn(&mut Value); 6] = [
        |jwk| jwk["alg"] = json!("RS256"),
        |jwk| jwk["alg"] = json!("HS256"),
        |jwk| {
            jwk.as_object_mut().unwrap().remove("alg");
        },
        |jwk| jwk["crv"] = json!("P-384"),
        |jwk| jwk["use"] = json!("enc"),
        |jwk| jwk["x"] = json!(b64(&[7; 32])),
    ];
    for edit in cases {
        let issuer = FakeIssuer::new(&[]);
        issuer.publish_jwks(mismatched(edit));
        let auth = auth(&issuer, &clock);
        assert_eq!(
            refusal(&auth, &key.token(&claims())).await,
            TokenError::UnknownKey
        );
    }
}

#[tokio::test]
async fn the_typ_must_be_at_jwt_in_either_form_and_any_case() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": "k1"});
        assert!(auth.verify(&key.sign(&header, &claims())).await.is_ok(), "{typ}");
    }
    for typ in [json!("JWT"), json!("id_token+jwt"), json!("at+jwt2"), Value::Null] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": "k1"});
        assert_eq!(
            refusal(&auth, &key.sign(&header, &claims())).await,
            TokenError::WrongType
        );
    }
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1", "crit": ["exp"]});
    assert_eq!(
        refusal(&auth, &key.sign(&header, &claims())).await,
        TokenError::WrongType
    );
}

#[tokio::test]
async fn malformed_tokens_and_missing_claims_are_refused() {
    let key = TestKey::es256("k1");
    let auth = auth(&FakeIssuer::new(&[&key]), &TestClock::new());
    let valid = key.token(&claims());
    let too_long = format!("{valid}{}", "A".repeat(8 * 1024));
    for token in ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", &too_long] {
        assert_eq!(refusal(&auth, token).await, TokenError::Malformed, "{token:.20}");
    }
    for claim in ["sub", "client_id", "exp", "iat", "jti", "aud", "iss"] {
        let token = key.token(&claims_with(|c| {
            c.as_object_mut().unwrap().remove(claim);
        }));
        assert_eq!(refusal(&auth, &token).await, TokenError::Malformed, "{claim}");
    }
    let no_kid = key.sign(&json!({"alg": "ES256", "typ": "at+jwt"}), &claims());
    assert_eq!(refusal(&auth, &no_kid).await, TokenError::UnknownKey);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_and_finds_a_rotated_key() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let issuer = FakeIssuer::new(&[&old]);
    let auth = auth(&issuer, &TestClock::new());
    issuer.publish(&[&old, &new]);
    assert!(auth.verify(&new.token(&claims())).await.is_ok());
    assert!(auth.verify(&new.token(&claims())).await.is_ok());
    assert!(auth.verify(&old.token(&claims())).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 1, "one refetch, then the key is held");
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let key = TestKey::es256("k1");
    let stranger = TestKey::es256("stranger");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let auth = auth(&issuer, &clock);
    assert_eq!(
        refusal(&auth, &stranger.token(&claims())).await,
        TokenError::UnknownKey
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    // A flood of other unknown kids within the interval: no request at all.
    clock.advance(29);
    for i in 0..50 {
        let token = TestKey::es256(&format!("bad-{i}")).token(&claims());
        assert_eq!(refusal(&auth, &token).await, TokenError::UnknownKey);
    }
    assert_eq!(issuer.jwks_fetches(), 1);
    // Known keys keep working meanwhile.
    assert!(auth.verify(&key.token(&claims())).await.is_ok());

    clock.advance(1);
    assert_eq!(
        refusal(&auth, &stranger.token(&claims())).await,
        TokenError::UnknownKey
    );
    assert_eq!(issuer.jwks_fetches(), 2, "the interval has passed");
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth(&issuer, &TestClock::new());
    let tokens: Vec<String> = (0..20)
        .map(|i| TestKey::es256(&format!("bad-{i}")).token(&claims()))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for token in tokens {
        let auth = auth.clone();
        tasks.spawn(async move { auth.verify(&token).await.err() });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), Some(TokenError::UnknownKey));
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_failed_refetch_answers_unavailable_and_is_not_retried_within_the_interval() {
    let key = TestKey::es256("k1");
    let new = TestKey::es256("new");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let auth = auth_with(&issuer, &clock, false, |b| {
        b.jwks_refetch_interval(Duration::from_secs(10))
    });
    issuer.set_jwks_down(true);
    assert_eq!(
        refusal(&auth, &new.token(&claims())).await,
        TokenError::Unavailable
    );
    assert_eq!(
        refusal(&auth, &new.token(&claims())).await,
        TokenError::Unavailable
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    issuer.set_jwks_down(false);
    issuer.publish(&[&key, &new]);
    clock.advance(10);
    assert!(auth.verify(&new.token(&claims())).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_stale_jwks_is_refreshed_so_withdrawn_keys_stop_verifying() {
    let key = TestKey::es256("k1");
    let next = TestKey::es256("k2");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let auth = auth(&issuer, &clock);
    let token = key.token(&claims_with(|c| c["exp"] = json!(NOW + 3600)));
    clock.advance(299);
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 0);

    issuer.publish(&[&next]);
    clock.advance(1);
    assert_eq!(refusal(&auth, &token).await, TokenError::UnknownKey);
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "the stale refresh, then the unknown-kid refetch"
    );

    // A failed refresh keeps the keys held and is not retried at once.
    clock.advance(300);
    issuer.set_jwks_down(true);
    let fresh = next.token(&claims_with(|c| c["exp"] = json!(NOW + 3600)));
    assert!(auth.verify(&fresh).await.is_ok());
    assert!(auth.verify(&fresh).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 3);
}

fn active(scope: &str) -> Value {
    json!({
        "active": true, "scope": scope, "client_id": "client-1", "sub": "user-1",
        "aud": AUDIENCE, "iss": ISSUER, "exp": NOW + 900, "iat": NOW, "jti": "jti-1",
        "token_type": "Bearer",
    })
}

#[tokio::test]
async fn introspection_mode_asks_the_issuer_and_caches_the_answer_briefly() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let auth = auth_with(&issuer, &clock, true, |b| b);
    let token = key.token(&claims());
    issuer.answer_introspection(active("notes:read"));
    let verified = auth.verify(&token).await.unwrap();
    assert_eq!(verified.scopes, ["notes:read"]);
    assert_eq!(verified.subject, "user-1");

    issuer.answer_introspection(json!({"active": false}));
    clock.advance(4);
    assert!(auth.verify(&token).await.is_ok(), "cached for 5 s");
    assert_eq!(issuer.introspections(), 1);
    clock.advance(1);
    assert_eq!(refusal(&auth, &token).await, TokenError::Inactive);
    assert_eq!(issuer.introspections(), 2);
    assert_eq!(refusal(&auth, &token).await, TokenError::Inactive);
    assert_eq!(issuer.introspections(), 2, "inactive answers are cached too");
}

#[tokio::test]
async fn a_zero_cache_ttl_asks_every_time() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), true, |b| {
        b.introspection_cache_ttl(Duration::ZERO)
    });
    issuer.answer_introspection(active("notes:read"));
    let token = key.token(&claims());
    for _ in 0..3 {
        assert!(auth.verify(&token).await.is_ok());
    }
    assert_eq!(issuer.introspections(), 3);
}

#[tokio::test]
async fn forged_tokens_never_reach_the_introspection_endpoint() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), true, |b| b);
    issuer.answer_introspection(active("notes:read"));
    let forger = TestKey::es256("k1");
    assert_eq!(
        refusal(&auth, &forger.token(&claims())).await,
        TokenError::BadSignature
    );
    assert_eq!(issuer.introspections(), 0);
}

#[tokio::test]
async fn an_active_answer_for_another_audience_or_issuer_is_refused() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), true, |b| {
        b.introspection_cache_ttl(Duration::ZERO)
    });
    let token = key.token(&claims());
    let mut answer = active("notes:read");
    answer["aud"] = json!("https://billing.example");
    issuer.answer_introspection(answer);
    assert_eq!(refusal(&auth, &token).await, TokenError::WrongAudience);
    let mut answer = active("notes:read");
    answer["iss"] = json!("https://evil.example");
    issuer.answer_introspection(answer);
    assert_eq!(refusal(&auth, &token).await, TokenError::WrongIssuer);
    let mut answer = active("notes:read");
    answer.as_object_mut().unwrap().remove("aud");
    issuer.answer_introspection(answer);
    assert_eq!(refusal(&auth, &token).await, TokenError::WrongAudience);
}

#[tokio::test]
async fn an_unreachable_introspection_endpoint_answers_unavailable_and_is_not_cached() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), true, |b| b);
    let token = key.token(&claims());
    issuer.set_introspection_down(true);
    assert_eq!(refusal(&auth, &token).await, TokenError::Unavailable);
    issuer.set_introspection_down(false);
    issuer.answer_introspection(active("notes:read"));
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(issuer.introspections(), 2);
}

#[tokio::test]
async fn the_introspection_cache_stays_within_its_capacity() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let auth = auth_with(&issuer, &TestClock::new(), true, |b| {
        b.introspection_cache_capacity(4)
    });
    issuer.answer_introspection(active("notes:read"));
    for i in 0..10 {
        let token = key.token(&claims_with(|c| c["jti"] = json!(format!("jti-{i}"))));
        assert!(auth.verify(&token).await.is_ok());
    }
    let introspector = auth.0.introspection.as_ref().unwrap();
    assert!(introspector.cached_len() <= 4);
}

#[tokio::test]
async fn a_token_presented_again_comes_from_the_cache_and_still_expires() {
    let key = TestKey::es256("k1");
    let clock = TestClock::new();
    let auth = auth(&FakeIssuer::new(&[&key]), &clock);
    let token = key.token(&claims());
    let first = auth.verify(&token).await.unwrap();
    let again = auth.verify(&token).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(first.claims(), again.claims()),
        "served from the cache"
    );
    assert_eq!(auth.0.verified.len(), 1);
    clock.set(NOW + 900 + 60);
    assert_eq!(refusal(&auth, &token).await, TokenError::Expired);
}

#[tokio::test]
async fn a_jwks_fetch_drops_what_was_verified_with_withdrawn_keys() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let issuer = FakeIssuer::new(&[&old]);
    let auth = auth(&issuer, &TestClock::new());
    let token = old.token(&claims());
    assert!(auth.verify(&token).await.is_ok());
    // The issuer withdraws the old key; a token naming the new one makes us refetch.
    issuer.publish(&[&new]);
    assert!(auth.verify(&new.token(&claims())).await.is_ok());
    assert_eq!(refusal(&auth, &token).await, TokenError::UnknownKey);
}

#[tokio::test]
async fn the_verified_cache_is_bounded_and_can_be_turned_off() {
    let key = TestKey::es256("k1");
    let issuer = FakeIssuer::new(&[&key]);
    let clock = TestClock::new();
    let bounded = auth_with(&issuer, &clock, false, |b| b.verified_cache_capacity(3));
    let off = auth_with(&issuer, &clock, false, |b| b.verified_cache_capacity(0));
    for i in 0..10 {
        let token = key.token(&claims_with(|c| c["jti"] = json!(format!("jti-{i}"))));
        assert!(bounded.verify(&token).await.is_ok());
        assert!(off.verify(&token).await.is_ok());
        assert!(bounded.0.verified.len() <= 3);
    }
    assert_eq!(off.0.verified.len(), 0);
}
