//! Forged access tokens at the userinfo endpoint (RFC 9700 §4.x, RFC 8725, RFC 9068 §4):
//! `alg: none`, HS256 keyed with the published public key, a stranger's key under our
//! `kid`, `jku` / `x5u` / `jwk` headers pointing at the attacker's keys (never fetched or
//! trusted), tampered claims, expired, issued in the future, wrong issuer and wrong
//! audience. Every one is `401 invalid_token` with a Bearer challenge; the real token works.
//! (Introspection gets the same forgeries in `introspect.rs`.)

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::Clock as _;
use latchkey_core::keys::Algorithm;
use latchkey_core::token::access::AccessClaims;
use latchkey_core::token::jws;
use serde_json::{Value, json};

use crate::support::{Browser, TestServer, backend_test, decode_part};

const PASSWORD: &str = "correct horse battery staple";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

async fn userinfo(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

backend_test! {
    async fn forged_tokens_are_refused_at_userinfo(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("tess", PASSWORD).await;
        let client = server.web_client(&["openid", "profile"]).await;
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={}&scope=openid+profile", client.id));
        let code = Browser::new().approve(&server, &url, ("tess", PASSWORD)).await["code"].clone();
        let tokens: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await
            .json()
            .await
            .unwrap();
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let real = userinfo(&server, &token).await;
        assert_eq!(real.status(), 200, "control");
        let real: Value = real.json().await.unwrap();
        assert_eq!(real["sub"], sub.as_str());

        let kid = decode_part(&token, 0)["kid"].as_str().unwrap().to_owned();
        let payload = token.split('.').nth(1).unwrap().to_owned();
        let signature = token.rsplit('.').next().unwrap().to_owned();
        let mut forged = Vec::new();
        // alg none; HS256 keyed with the published key.
        let none = header(&json!({"alg": "none", "typ": "at+jwt", "kid": kid}));
        forged.push(("alg none".to_owned(), format!("{none}.{payload}.")));
        let jwk = server.jwks().await["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap()
            .clone();
        let hs = header(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}));
        let hmac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwk.to_string().as_bytes());
        let input = format!("{hs}.{payload}");
        forged.push(("HS256 with the public key".into(), format!("{input}.{}", b64(aws_lc_rs::hmac::sign(&hmac, input.as_bytes()).as_ref()))));
        // Tampered claims under the real signature: another user.
        let mut claims = decode_part(&token, 1);
        claims["sub"] = json!("someone-else");
        forged.push(("tampered sub".into(), format!("{}.{}.{signature}", token.split('.').next().unwrap(), b64(claims.to_string().as_bytes()))));
        // The attacker's own key, announced through jku, x5u and an embedded jwk.
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let attacker = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = attacker.public_key().as_ref();
        let embedded = json!({"kty": "EC", "crv": "P-256", "x": b64(&public[1..33]), "y": b64(&public[33..65]), "kid": "attacker"});
        for (what, h) in [
            ("jku", json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jku": "https://evil.example/jwks.json"})),
            ("x5u", json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "x5u": "https://evil.example/cert.pem"})),
            ("jwk", json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jwk": embedded})),
            ("our kid, their key", json!({"alg": "ES256", "typ": "at+jwt", "kid": kid})),
        ] {
            let input = format!("{}.{payload}", header(&h));
            let sig = attacker.sign(&rng, input.as_bytes()).unwrap();
            forged.push((format!("attacker key via {what}"), format!("{input}.{}", b64(sig.as_ref()))));
        }
        // Signed with our own key but with claims we would never issue.
        let key = server.context.keys.signing_key(Algorithm::Es256, server.clock.now()).unwrap();
        let now = server.clock.now().as_secs();
        let ours = |iss: &str, aud: &str, iat: i64, exp: i64| AccessClaims {
            iss: iss.to_owned(),
            sub: sub.clone(),
            aud: aud.to_owned(),
            client_id: client.id.clone(),
            exp,
            iat,
            jti: format!("forged-{iat}-{exp}-{}", aud.len()),
            scope: "openid profile".into(),
            grant_id: None,
            extra: serde_json::Map::new(),
        };
        let base = server.base.clone();
        for (what, claims) in [
            ("expired", ours(&base, &base, now - 120, now - 60)),
            ("issued in the future", ours(&base, &base, now + 3600, now + 7200)),
            ("wrong issuer", ours("https://evil.example", &base, now, now + 60)),
            ("wrong audience", ours(&base, "https://other-api.example", now, now + 60)),
        ] {
            forged.push((what.to_owned(), jws::sign(&key, "at+jwt", &claims).unwrap()));
        }
        let control = jws::sign(&key, "at+jwt", &ours(&base, &base, now, now + 60)).unwrap();
        assert_eq!(userinfo(&server, &control).await.status(), 200, "a well-formed token of ours works");

        for (what, fake) in &forged {
            let response = userinfo(&server, fake).await;
            assert_eq!(response.status(), 401, "{what}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_token"), "{what}: {challenge}");
        }
        assert_eq!(userinfo(&server, &token).await.status(), 200, "the real token is unharmed");
    }
}
