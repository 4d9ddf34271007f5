//! Introspection (RFC 7662): active tokens tell what they carry; expired, revoked, forged
//! and garbage tokens are simply inactive; callers must authenticate.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::Clock as _;
use latchkey_core::keys::Algorithm;
use latchkey_core::token::access::AccessClaims;
use latchkey_core::token::jws;
use oauth2::basic::BasicClient;
use oauth2::{AccessToken, ClientId, ClientSecret, IntrospectionUrl, TokenIntrospectionResponse as _};
use serde_json::json;

use crate::support::{TestServer, assert_oauth_error, backend_test, decode_part};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

backend_test! {
    async fn an_active_token_introspects_with_the_oauth2_crate(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["notes:read"]).await;
        let resource_server = server.service_client(&[]).await;
        let token = server.token(&client, Some("notes:read")).await;

        let oauth = BasicClient::new(ClientId::new(resource_server.id.clone()))
            .set_client_secret(ClientSecret::new(resource_server.secret.clone()))
            .set_introspection_url(IntrospectionUrl::new(server.url("/oauth2/introspect")).unwrap());
        let response = oauth
            .introspect(&AccessToken::new(token.clone()))
            .request_async(&server.http)
            .await
            .unwrap();
        assert!(response.active());
        assert_eq!(response.client_id().map(|c| c.as_str()), Some(client.id.as_str()));
        assert_eq!(response.sub(), Some(client.id.as_str()));
        assert_eq!(response.iss(), Some(server.base.as_str()));
        assert_eq!(response.scopes().map(|s| s.len()), Some(1));
        assert!(response.exp().is_some());

        let body = server.introspect(&resource_server, &token).await;
        let claims = decode_part(&token, 1);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["jti"], claims["jti"]);
        assert_eq!(body["iat"], claims["iat"]);
        assert_eq!(body["exp"], claims["exp"]);
        assert_eq!(body["aud"], server.base);
    }
}

backend_test! {
    async fn introspection_needs_an_authenticated_confidential_client(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let token = server.token(&client, None).await;

        let response = server
            .post_form("/oauth2/introspect", None, &[("token", &token)])
            .await;
        assert!(response.headers().contains_key("www-authenticate"));
        assert_oauth_error(response, 401, "invalid_client").await;

        let wrong = crate::support::Registered {
            id: client.id.clone(),
            secret: "nope".into(),
        };
        let response = server
            .post_form("/oauth2/introspect", Some(&wrong), &[("token", &token)])
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;

        let public = server
            .register(|r| {
                r.public = true;
                r.grant_types = vec!["urn:ietf:params:oauth:grant-type:device_code".into()];
            })
            .await;
        let response = server
            .post_form(
                "/oauth2/introspect",
                None,
                &[("token", &token), ("client_id", &public.id)],
            )
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;

        let response = server.post_form("/oauth2/introspect", Some(&client), &[]).await;
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

backend_test! {
    async fn an_expired_token_is_inactive(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let token = server.token(&client, None).await;
        assert_eq!(server.introspect(&client, &token).await["active"], true);
        server.clock.advance(Duration::from_secs(899));
        assert_eq!(server.introspect(&client, &token).await["active"], true);
        server.clock.advance(Duration::from_secs(1));
        assert_eq!(server.introspect(&client, &token).await, json!({"active": false}));
    }
}

backend_test! {
    async fn forged_tokens_are_inactive(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["a"]).await;
        let token = server.token(&client, Some("a")).await;
        let mut parts = token.split('.');
        let (header, payload, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let kid = decode_part(&token, 0)["kid"].as_str().unwrap().to_owned();

        let mut forged = Vec::new();
        // The signature of another token, and a flipped signature byte.
        let other = server.token(&client, Some("a")).await;
        forged.push(format!(
            "{header}.{payload}.{}",
            other.rsplit('.').next().unwrap()
        ));
        let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
        sig[10] ^= 1;
        forged.push(format!("{header}.{payload}.{}", b64(&sig)));
        // Claims changed under the original signature (scope escalation).
        let mut claims = decode_part(&token, 1);
        claims["scope"] = json!("a admin");
        forged.push(format!(
            "{header}.{}.{signature}",
            b64(claims.to_string().as_bytes())
        ));
        // alg: none, with and without a signature.
        let none = b64(json!({"alg": "none", "typ": "at+jwt", "kid": kid})
            .to_string()
            .as_bytes());
        forged.push(format!("{none}.{payload}."));
        forged.push(format!("{none}.{payload}.{signature}"));
        // HS256 keyed with the public key as published (the classic key-confusion attack).
        let jwks = server.jwks().await;
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone();
        let hs = b64(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})
            .to_string()
            .as_bytes());
        for secret in [jwk.to_string(), jwk["x"].as_str().unwrap().to_owned()] {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
            let input = format!("{hs}.{payload}");
            let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
            forged.push(format!("{input}.{}", b64(tag.as_ref())));
        }
        // A well-formed ES256 token from a key we never published, under our kid and another.
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let stranger = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        for claimed_kid in [kid.as_str(), "unknown-kid"] {
            let h = b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": claimed_kid})
                .to_string()
                .as_bytes());
            let input = format!("{h}.{payload}");
            let sig = stranger.sign(&rng, input.as_bytes()).unwrap();
            forged.push(format!("{input}.{}", b64(sig.as_ref())));
        }
        // No kid; a crit header; garbage of every shape.
        let no_kid = b64(json!({"alg": "ES256", "typ": "at+jwt"}).to_string().as_bytes());
        forged.push(format!("{no_kid}.{payload}.{signature}"));
        let crit = b64(
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]})
                .to_string()
                .as_bytes(),
        );
        forged.push(format!("{crit}.{payload}.{signature}"));
        for garbage in [
            "garbage",
            "a.b.c",
            "a.b.c.d",
            "...",
            "eyJ.eyJ.eyJ",
            &"A".repeat(20_000),
            &format!("{token}."),
        ] {
            forged.push(garbage.to_owned());
        }

        for (i, fake) in forged.iter().enumerate() {
            assert_eq!(
                server.introspect(&client, fake).await,
                json!({"active": false}),
                "forgery {i}"
            );
        }
        assert_eq!(
            server.introspect(&client, &token).await["active"],
            true,
            "the real token is unharmed"
        );
    }
}

backend_test! {
    async fn tokens_we_signed_with_the_wrong_type_or_issuer_are_inactive(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let now = server.clock.now().as_secs();
        let key = server
            .context
            .keys
            .signing_key(Algorithm::Es256, server.clock.now())
            .unwrap();
        let claims = |iss: &str, iat: i64, exp: i64| AccessClaims {
            iss: iss.to_owned(),
            sub: client.id.clone(),
            aud: server.base.clone(),
            client_id: client.id.clone(),
            exp,
            iat,
            jti: format!("jti-{iat}-{exp}-{}", iss.len()),
            scope: String::new(),
            grant_id: None,
            extra: serde_json::Map::new(),
        };
        let good = jws::sign(&key, "at+jwt", &claims(&server.base, now, now + 60)).unwrap();
        assert_eq!(server.introspect(&client, &good).await["active"], true, "control");

        let cases = [
            jws::sign(&key, "JWT", &claims(&server.base, now, now + 60)).unwrap(),
            jws::sign(&key, "id_token+jwt", &claims(&server.base, now, now + 60)).unwrap(),
            jws::sign(&key, "at+jwt", &claims("https://evil.example.com", now, now + 60)).unwrap(),
            jws::sign(&key, "at+jwt", &claims(&server.base, now + 3600, now + 7200)).unwrap(),
            jws::sign(&key, "at+jwt", &claims(&server.base, now - 120, now - 60)).unwrap(),
            jws::sign(&key, "at+jwt", &json!({"iss": server.base, "exp": now + 60})).unwrap(),
        ];
        for (i, token) in cases.iter().enumerate() {
            assert_eq!(
                server.introspect(&client, token).await,
                json!({"active": false}),
                "case {i}"
            );
        }

        let rsa = server
            .context
            .keys
            .signing_key(Algorithm::Rs256, server.clock.now())
            .unwrap();
        let rsa_signed = jws::sign(&rsa, "at+jwt", &claims(&server.base, now, now + 60)).unwrap();
        assert_eq!(
            server.introspect(&client, &rsa_signed).await,
            json!({"active": false}),
            "access tokens are ES256 only, even when signed by our own RS256 key"
        );
    }
}

backend_test! {
    async fn a_token_from_another_latchkey_is_inactive_here(backend) {
        let ours = TestServer::start_on(backend.clone()).await;
        let theirs = TestServer::start_on(backend.clone()).await;
        let their_client = theirs.service_client(&[]).await;
        let their_token = theirs.token(&their_client, None).await;
        let our_client = ours.service_client(&[]).await;
        assert_eq!(
            ours.introspect(&our_client, &their_token).await,
            json!({"active": false})
        );
    }
}
