//! The token endpoint and the client-credentials grant (RFC 6749 §4.4, RFC 9068).

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse as _, TokenUrl};

use crate::support::{TestServer, assert_oauth_error, backend_test, verify_es256_against_jwks};

fn oauth2_client(
    server: &TestServer,
    id: &str,
    secret: &str,
    auth: AuthType,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).unwrap())
        .set_auth_type(auth)
}

backend_test! {
    async fn client_credentials_with_the_oauth2_crate_yields_a_verifiable_rfc9068_token(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["notes:read", "notes:write"]).await;
        let oauth = oauth2_client(&server, &client.id, &client.secret, AuthType::BasicAuth);

        let token = oauth
            .exchange_client_credentials()
            .add_scope(Scope::new("notes:read".into()))
            .request_async(&server.http)
            .await
            .unwrap();

        assert_eq!(token.token_type().as_ref(), "bearer");
        assert_eq!(token.expires_in().map(|d| d.as_secs()), Some(900));
        assert!(
            token.refresh_token().is_none(),
            "no refresh token for client credentials"
        );
        assert_eq!(token.scopes().map(|s| s.len()), Some(1));

        let jwks = server.jwks().await;
        let claims = verify_es256_against_jwks(token.access_token().secret(), &jwks);
        assert_eq!(claims["iss"], server.base);
        assert_eq!(claims["aud"], server.base);
        assert_eq!(claims["sub"], client.id);
        assert_eq!(claims["client_id"], client.id);
        assert_eq!(claims["scope"], "notes:read");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );
        assert!(claims["jti"].as_str().unwrap().len() >= 22);
    }
}

backend_test! {
    async fn client_secret_post_works_for_clients_registered_for_it(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server
            .register(|r| {
                r.auth_method = Some("client_secret_post".into());
                r.scopes = vec!["a".into()];
            })
            .await;
        let oauth = oauth2_client(&server, &client.id, &client.secret, AuthType::RequestBody);
        let token = oauth
            .exchange_client_credentials()
            .request_async(&server.http)
            .await
            .unwrap();
        assert!(!token.access_token().secret().is_empty());
    }
}

backend_test! {
    async fn the_registered_auth_method_is_the_only_one_accepted(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let basic = server.service_client(&[]).await;
        let post = server
            .register(|r| r.auth_method = Some("client_secret_post".into()))
            .await;

        let response = server
            .post_form(
                "/oauth2/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &basic.id),
                    ("client_secret", &basic.secret),
                ],
            )
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;

        let response = server
            .post_form(
                "/oauth2/token",
                Some(&post),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

backend_test! {
    async fn bad_client_credentials_get_401_with_a_basic_challenge(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let cases = [
            crate::support::Registered {
                id: client.id.clone(),
                secret: "wrong".into(),
            },
            crate::support::Registered {
                id: client.id.clone(),
                secret: String::new(),
            },
            crate::support::Registered {
                id: "nobody".into(),
                secret: client.secret.clone(),
            },
        ];
        for bad in &cases {
            let response = server
                .post_form(
                    "/oauth2/token",
                    Some(bad),
                    &[("grant_type", "client_credentials")],
                )
                .await;
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Basic realm="latchkey""#
            );
            assert_oauth_error(response, 401, "invalid_client").await;
        }
        let anonymous = server
            .post_form("/oauth2/token", None, &[("grant_type", "client_credentials")])
            .await;
        assert!(anonymous.headers().contains_key("www-authenticate"));
        assert_oauth_error(anonymous, 401, "invalid_client").await;

        let garbage = server
            .http
            .post(server.url("/oauth2/token"))
            .header("authorization", "Basic %%%not-base64")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(garbage, 401, "invalid_client").await;
    }
}

backend_test! {
    async fn two_authentication_methods_in_one_request_are_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let response = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_secret", &client.secret),
                ],
            )
            .await;
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

backend_test! {
    async fn scopes_must_be_within_the_clients_allowance_and_default_to_it(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["notes:read", "notes:write"]).await;

        let response = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[
                    ("grant_type", "client_credentials"),
                    ("scope", "notes:read admin"),
                ],
            )
            .await;
        let body = assert_oauth_error(response, 400, "invalid_scope").await;
        assert!(body["error_description"].as_str().unwrap().contains("admin"));

        for refused in ["bad\"scope", "openid", "offline_access", "notes:read\\x"] {
            let form = [("grant_type", "client_credentials"), ("scope", refused)];
            let response = server.post_form("/oauth2/token", Some(&client), &form).await;
            assert_oauth_error(response, 400, "invalid_scope").await;
        }

        let response = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["scope"], "notes:read notes:write");
    }
}

backend_test! {
    async fn grant_types_are_checked_against_the_registration(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let browser_app = server
            .register(|r| {
                r.grant_types = vec!["authorization_code".into()];
                r.redirect_uris = vec!["https://app.example.com/cb".into()];
            })
            .await;
        let response = server
            .post_form(
                "/oauth2/token",
                Some(&browser_app),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_oauth_error(response, 400, "unauthorized_client").await;

        let client = server.service_client(&[]).await;
        for grant in ["password", "urn:example:unknown"] {
            let response = server
                .post_form("/oauth2/token", Some(&client), &[("grant_type", grant)])
                .await;
            assert_oauth_error(response, 400, "unsupported_grant_type").await;
        }
        let response = server
            .post_form("/oauth2/token", Some(&client), &[("scope", "a")])
            .await;
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

backend_test! {
    async fn token_responses_are_not_cacheable(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let response = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
}

backend_test! {
    async fn a_client_registered_while_the_server_runs_can_get_tokens_at_once(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let early = server.service_client(&[]).await;
        let _ = server.token(&early, None).await;
        let late = server.service_client(&["x"]).await;
        let token = server.token(&late, Some("x")).await;
        assert!(!token.is_empty());
    }
}
