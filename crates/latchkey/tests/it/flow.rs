//! The authorization-code flow end to end, as a relying party sees it: discovery with the
//! `openidconnect` crate, a browser that logs in and approves consent, the code exchanged
//! with PKCE, the ID token validated, userinfo read, and the refresh token rotated.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse as _,
};

use crate::support::{Browser, TestServer, backend_test, redirect_params};

const PASSWORD: &str = "correct horse battery staple";

backend_test! {
    async fn a_user_logs_in_consents_and_the_client_gets_verified_openid_tokens(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("alice", PASSWORD).await;
        let registered = server
            .web_client(&["openid", "profile", "email", "notes:read"])
            .await;
        server
            .store()
            .describe_scope(
                &latchkey_core::scope::Scope::parse("notes:read").unwrap(),
                "Read your notes",
            )
            .await
            .unwrap();

        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &server.http)
                .await
                .unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.id.clone()),
            Some(ClientSecret::new(registered.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new("https://app.example.com/cb".into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (auth_url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("notes:read".into()))
            .set_pkce_challenge(challenge)
            .url();

        let browser = Browser::new();
        let consent = browser
            .authorize(&server, auth_url.as_str(), ("alice", PASSWORD))
            .await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        assert!(
            consent.html.contains("Notes Web"),
            "the consent page names the client"
        );
        assert!(
            consent.html.contains("Read your notes"),
            "and describes each scope"
        );
        assert!(consent.html.contains("See your e-mail address"));
        assert!(consent.html.contains(r#"name="decision" value="allow""#));
        assert!(consent.html.contains(r#"name="decision" value="deny""#));
        assert!(
            consent.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );

        let back = browser
            .submit(
                &server.base,
                &consent,
                "/oauth2/authorize",
                &[("decision", "allow")],
            )
            .await;
        assert_eq!(back.status, 303);
        let location = back.location().unwrap();
        assert!(location.starts_with("https://app.example.com/cb?"));
        let params = redirect_params(&location);
        assert_eq!(params["state"], *state.secret());
        assert_eq!(params["iss"], server.base, "RFC 9207");

        let tokens = client
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&server.http)
            .await
            .unwrap();
        let id_token = tokens.id_token().expect("an ID token for the openid scope");
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.subject().as_str(), sub);
        assert!(claims.auth_time().is_some());
        let expected_hash = claims.access_token_hash().expect("at_hash");
        let actual_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(*expected_hash, actual_hash);
        assert_eq!(
            *id_token.signing_alg().unwrap(),
            openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256
        );

        let userinfo: CoreUserInfoClaims = client
            .user_info(tokens.access_token().to_owned(), None)
            .unwrap()
            .request_async(&server.http)
            .await
            .unwrap();
        assert_eq!(userinfo.subject().as_str(), sub);
        assert_eq!(userinfo.preferred_username().map(|u| u.as_str()), Some("alice"));
        assert_eq!(userinfo.email().map(|e| e.as_str()), Some("alice@example.com"));

        // The refresh token rotates: the new one works, and the access token is for the user.
        let refresh = tokens
            .refresh_token()
            .expect("a refresh token for a client registered for them");
        let refreshed = client
            .exchange_refresh_token(refresh)
            .unwrap()
            .request_async(&server.http)
            .await
            .unwrap();
        let rotated = refreshed.refresh_token().unwrap();
        assert_ne!(rotated.secret(), refresh.secret());
        let introspected = server
            .introspect(&registered, refreshed.access_token().secret())
            .await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["sub"], sub);
        assert_eq!(introspected["client_id"], registered.id);
        let again = client
            .exchange_refresh_token(&RefreshToken::new(rotated.secret().clone()))
            .unwrap()
            .request_async(&server.http)
            .await;
        assert!(again.is_ok());
    }
}

backend_test! {
    async fn consent_is_remembered_and_asked_again_only_for_new_scopes(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("bob", PASSWORD).await;
        let client = server.web_client(&["openid", "profile", "email"]).await;
        let browser = Browser::new();
        let url = |scope: &str, extra: &str| {
            server.url(&format!(
                "/oauth2/authorize?response_type=code&client_id={}&scope={scope}&state=s{extra}",
                client.id
            ))
        };

        let consent = browser
            .authorize(&server, &url("openid+profile", ""), ("bob", PASSWORD))
            .await;
        assert_eq!(consent.status, 200);
        let back = browser
            .submit(
                &server.base,
                &consent,
                "/oauth2/authorize",
                &[("decision", "allow")],
            )
            .await;
        assert!(redirect_params(&back.location().unwrap()).contains_key("code"));

        // Same scopes again (or fewer): straight back with a code, no page.
        for scope in ["openid+profile", "openid"] {
            let direct = browser.get(&url(scope, "")).await;
            assert_eq!(direct.status, 303, "{scope}");
            assert!(redirect_params(&direct.location().unwrap()).contains_key("code"));
        }

        // A new scope: the page asks about the new one only.
        let more = browser.get(&url("openid+profile+email", "")).await;
        assert_eq!(more.status, 200);
        assert!(more.html.contains("See your e-mail address"));
        let (asked, already) = more.html.split_once("You already allowed").unwrap();
        assert!(
            !asked.contains("See your name and username"),
            "profile was approved before"
        );
        assert!(already.contains("See your name and username"));

        // prompt=consent always asks.
        let forced = browser.get(&url("openid", "&prompt=consent")).await;
        assert_eq!(forced.status, 200);
        assert!(forced.html.contains(r#"value="allow""#));
    }
}

backend_test! {
    async fn denying_returns_access_denied_with_state(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("carol", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let consent = browser
            .authorize(
                &server,
                &server.url(&format!(
                    "/oauth2/authorize?response_type=code&client_id={}&state=xyz",
                    client.id
                )),
                ("carol", PASSWORD),
            )
            .await;
        let back = browser
            .submit(
                &server.base,
                &consent,
                "/oauth2/authorize",
                &[("decision", "deny")],
            )
            .await;
        let params = redirect_params(&back.location().unwrap());
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["state"], "xyz");
        assert!(!params.contains_key("code"));
    }
}

backend_test! {
    async fn a_client_registered_for_es256_gets_es256_id_tokens(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("dave", PASSWORD).await;
        let registered = server
            .register(|r| {
                r.name = "EC App".into();
                r.grant_types = vec!["authorization_code".into()];
                r.redirect_uris = vec!["https://app.example.com/cb".into()];
                r.scopes = vec!["openid".into()];
                r.id_token_alg = Some("ES256".into());
            })
            .await;
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &server.http)
                .await
                .unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.id.clone()),
            Some(ClientSecret::new(registered.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new("https://app.example.com/cb".into()).unwrap());
        let (auth_url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url();
        let params = Browser::new()
            .approve(&server, auth_url.as_str(), ("dave", PASSWORD))
            .await;
        let tokens = client
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .unwrap()
            .request_async(&server.http)
            .await
            .unwrap();
        let id_token = tokens.id_token().unwrap();
        let es256 = openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256;
        assert_eq!(*id_token.signing_alg().unwrap(), es256);
        assert!(
            tokens.refresh_token().is_none(),
            "not registered for refresh_token"
        );
        let verifier = client.id_token_verifier().set_allowed_algs(vec![es256]);
        let claims = id_token.claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.audiences().len(), 1);
    }
}

backend_test! {
    async fn a_user_sees_their_grants_and_revoking_one_kills_its_tokens(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("erin", PASSWORD).await;
        let client = server.web_client(&["openid", "profile"]).await;
        let browser = Browser::new();
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid+profile",
            client.id
        ));
        let params = browser.approve(&server, &url, ("erin", PASSWORD)).await;
        let response = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "authorization_code"), ("code", &params["code"])],
            )
            .await;
        let tokens: serde_json::Value = response.json().await.unwrap();

        // The audit trail that says when it was last used is written in batches.
        let mut account = browser.get(&server.url("/account")).await;
        for _ in 0..30 {
            if account.html.contains("last used") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            account = browser.get(&server.url("/account")).await;
        }
        assert!(account.html.contains("Notes Web"));
        assert!(account.html.contains("See your name and username"));
        assert!(account.html.contains("Allowed since"), "{}", account.html);
        assert!(account.html.contains("last used"), "{}", account.html);
        assert!(account.html.contains("offline access"), "it holds a refresh token");
        assert!(account.html.contains(r#"name="revoke" value="ask""#));

        // The revoke button asks first; nothing is revoked until the user confirms.
        let confirm = browser
            .submit(&server.base, &account, "/grants/revoke", &[("revoke", "ask")])
            .await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.html.contains("Revoke access for Notes Web?"), "{}", confirm.html);
        assert!(confirm.html.contains(r#"name="revoke" value="confirm""#));
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(server.introspect(&client, access).await["active"], true);
        let revoked = browser
            .submit(&server.base, &confirm, "/grants/revoke", &[("revoke", "confirm")])
            .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(revoked.location().as_deref(), Some("/account"));
        let account = browser.get(&server.url("/account")).await;
        assert!(!account.html.contains("Notes Web"), "the grant is gone");

        assert_eq!(
            server.introspect(&client, access).await,
            serde_json::json!({"active": false})
        );
        let refresh = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(refresh.status(), 400);
        let again = browser.get(&url).await;
        assert_eq!(again.status, 200, "consent is asked again");
        assert!(again.html.contains(r#"value="allow""#));

        let forged = Browser::new()
            .post(
                &server.url("/grants/revoke"),
                &[("client_id".into(), client.id.clone()), ("revoke".into(), "confirm".into())],
            )
            .await;
        assert_eq!(forged.status, 403, "CSRF-protected");
    }
}
