//! Client impersonation (RFC 6749 §2.3, §3.2.1, §10.2; RFC 9700 §2.5): a public client
//! may not authenticate, a confidential one must, with its own secret and by its
//! registered method only. Refresh tokens are bound to their client (RFC 6749 §6, §10.4)
//! and die with revocation (RFC 7009). No client gets more scope than it is registered
//! for or than the user granted, at the authorization endpoint, with client credentials
//! or at a refresh (RFC 6749 §3.3, §6; RFC 9700 §2.3).

use serde_json::{Value, json};

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test, redirect_params};

const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ENDPOINTS: [&str; 3] = ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"];

/// A form for `path` that a correctly authenticated client would get a 200 for.
fn harmless_form(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/oauth2/token" => vec![("grant_type", "client_credentials")],
        _ => vec![("token", "not-a-token")],
    }
}

/// POSTs `form` with `Authorization: Basic id:secret`.
async fn with_basic(
    server: &TestServer,
    path: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    server
        .http
        .post(server.url(path))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// POSTs `form` with `client_id` and `client_secret` in the body.
async fn with_post(
    server: &TestServer,
    path: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = form.to_vec();
    all.push(("client_id", id));
    all.push(("client_secret", secret));
    server.post_form(path, None, &all).await
}

async fn assert_invalid_client(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 401, "{what}");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
        "{what}: a 401 names the scheme"
    );
    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn public_client(server: &TestServer) -> Registered {
    server
        .register(|r| {
            r.name = "Notes CLI".into();
            r.public = true;
            r.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
            r.redirect_uris = vec!["http://127.0.0.1:8765/callback".into()];
            r.scopes = vec!["openid".into(), "notes:read".into()];
        })
        .await
}

/// Tokens from the code flow for `client` (confidential), as `user`, asking for `scope`.
async fn code_flow_tokens(server: &TestServer, client: &Registered, user: &str, scope: &str) -> Value {
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope={scope}",
        client.id
    ));
    let code = Browser::new().approve(server, &url, (user, PASSWORD)).await["code"].clone();
    let response = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh(
    server: &TestServer,
    client: &Registered,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    server.post_form("/oauth2/token", Some(client), &form).await
}

backend_test! {
    // RFC 6749 §2.3 and §10.2, RFC 9700 §2.5: a public client has no secret to present; one that does is refused.
    async fn a_public_client_presenting_a_secret_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("ann", PASSWORD).await;
        let client = public_client(&server).await;
        let confidential = server.service_client(&[]).await;
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id
        ));
        let code = Browser::new().approve(&server, &url, ("ann", PASSWORD)).await["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:8765/callback"),
        ];
        // Any secret: made up, empty-looking, or another client's real one.
        for secret in ["made-up", " ", confidential.secret.as_str()] {
            assert_invalid_client(with_basic(&server, "/oauth2/token", &client.id, secret, &form).await, "Basic").await;
            assert_invalid_client(with_post(&server, "/oauth2/token", &client.id, secret, &form).await, "post").await;
        }
        // The refusals did not spend the code: the client as registered (client_id only) redeems it.
        let mut honest = form.to_vec();
        honest.push(("client_id", &client.id));
        let response = server.post_form("/oauth2/token", None, &honest).await;
        assert_eq!(response.status(), 200);
    }
}

backend_test! {
    // RFC 6749 §3.2.1 and §10.2: a confidential client must authenticate; its client_id alone is not enough.
    async fn a_confidential_client_without_its_secret_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["notes:read"]).await;
        let token = server.token(&client, None).await;
        for path in ENDPOINTS {
            let form = if path == "/oauth2/token" { harmless_form(path) } else { vec![("token", token.as_str())] };
            let mut id_only = form.clone();
            id_only.push(("client_id", &client.id));
            assert_invalid_client(server.post_form(path, None, &id_only).await, path).await;
            assert_invalid_client(server.post_form(path, None, &form).await, path).await;
            assert_invalid_client(with_basic(&server, path, &client.id, "", &form).await, path).await;
            // An empty client_secret counts as omitted (RFC 6749 §3.1), so this is client_id only.
            assert_invalid_client(with_post(&server, path, &client.id, "", &form).await, path).await;
        }
        assert_eq!(server.introspect(&client, &token).await["active"], true, "the revocation attempts did nothing");
    }
}

backend_test! {
    // RFC 6749 §2.3.1 and §10.2: a client authenticates with its own secret, exactly.
    async fn another_clients_secret_or_a_near_miss_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let victim = server.service_client(&["notes:read"]).await;
        let attacker = server.service_client(&["notes:read"]).await;
        let poster = server
            .register(|r| {
                r.scopes = vec!["notes:read".into()];
                r.auth_method = Some("client_secret_post".into());
            })
            .await;
        let token = server.token(&victim, None).await;
        let near_misses = |secret: &str| {
            vec![
                attacker.secret.clone(),
                secret.to_uppercase(),
                format!("{secret} "),
                secret[..secret.len() - 1].to_owned(),
                format!("{secret}x"),
            ]
        };
        for path in ENDPOINTS {
            let form = if path == "/oauth2/token" { harmless_form(path) } else { vec![("token", token.as_str())] };
            for wrong in near_misses(&victim.secret) {
                assert_invalid_client(with_basic(&server, path, &victim.id, &wrong, &form).await, path).await;
            }
            for wrong in near_misses(&poster.secret) {
                assert_invalid_client(with_post(&server, path, &poster.id, &wrong, &form).await, path).await;
            }
        }
        assert_eq!(server.introspect(&victim, &token).await["active"], true);
        for path in ["/oauth2/token", "/oauth2/introspect"] {
            let form = harmless_form(path);
            assert_eq!(with_basic(&server, path, &victim.id, &victim.secret, &form).await.status(), 200, "control");
            assert_eq!(with_post(&server, path, &poster.id, &poster.secret, &form).await.status(), 200, "control");
        }
    }
}

backend_test! {
    // RFC 6749 §2.3, RFC 7591 §2 (token_endpoint_auth_method): only the registered method is accepted.
    async fn an_auth_method_the_client_is_not_registered_for_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let basic = server.service_client(&["notes:read"]).await;
        let post = server
            .register(|r| {
                r.scopes = vec!["notes:read".into()];
                r.auth_method = Some("client_secret_post".into());
            })
            .await;
        for path in ENDPOINTS {
            let form = harmless_form(path);
            // The right secret, the wrong way.
            assert_invalid_client(with_post(&server, path, &basic.id, &basic.secret, &form).await, path).await;
            assert_invalid_client(with_basic(&server, path, &post.id, &post.secret, &form).await, path).await;
            // Both ways at once is refused too (RFC 6749 §2.3: one method per request).
            let mut both = form.clone();
            both.push(("client_secret", &basic.secret));
            let response = with_basic(&server, path, &basic.id, &basic.secret, &both).await;
            assert_oauth_error(response, 400, "invalid_request").await;
            assert_eq!(with_basic(&server, path, &basic.id, &basic.secret, &form).await.status(), 200, "control");
            assert_eq!(with_post(&server, path, &post.id, &post.secret, &form).await.status(), 200, "control");
        }
    }
}

backend_test! {
    // RFC 6749 §6 and §10.4: a refresh token is bound to its client; another client presenting it gets nothing.
    async fn a_refresh_token_presented_by_another_client_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("bob", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let thief = server.web_client(&["openid", "notes:read"]).await;
        let tokens = code_flow_tokens(&server, &client, "bob", "openid+notes:read").await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        let access = tokens["access_token"].as_str().unwrap();

        let stolen = refresh(&server, &thief, refresh_token, None).await;
        assert_oauth_error(stolen, 400, "invalid_grant").await;
        // Latchkey treats it as a theft and revokes the grant (the rightful client must
        // start over): nothing of it works for anyone afterwards.
        assert_oauth_error(refresh(&server, &client, refresh_token, None).await, 400, "invalid_grant").await;
        assert_eq!(server.introspect(&client, access).await, json!({"active": false}));
        let other_thief_public = public_client(&server).await;
        let by_public = server
            .post_form(
                "/oauth2/token",
                None,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", &other_thief_public.id)],
            )
            .await;
        assert_oauth_error(by_public, 400, "invalid_grant").await;
    }
}

backend_test! {
    // RFC 7009 §2.1 and §2.2: a revoked refresh token is refused; only its own client may revoke it.
    async fn a_revoked_refresh_token_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("cy", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let other = server.web_client(&["openid", "notes:read"]).await;
        let tokens = code_flow_tokens(&server, &client, "cy", "openid+notes:read").await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap();

        let foreign = server.post_form("/oauth2/revoke", Some(&other), &[("token", refresh_token)]).await;
        assert_oauth_error(foreign, 400, "unauthorized_client").await;
        let rotated = refresh(&server, &client, refresh_token, None).await;
        assert_eq!(rotated.status(), 200, "another client's revocation did nothing");
        let rotated: Value = rotated.json().await.unwrap();
        let current = rotated["refresh_token"].as_str().unwrap();
        let access = rotated["access_token"].as_str().unwrap();

        let revoked = server
            .post_form("/oauth2/revoke", Some(&client), &[("token", current), ("token_type_hint", "refresh_token")])
            .await;
        assert_eq!(revoked.status(), 200);
        assert_oauth_error(refresh(&server, &client, current, None).await, 400, "invalid_grant").await;
        assert_eq!(server.introspect(&client, access).await, json!({"active": false}), "RFC 7009 §2.1: the grant's access tokens too");
        assert_eq!(server.introspect(&client, current).await, json!({"active": false}));
    }
}

backend_test! {
    // RFC 6749 §3.3 and §4.1.2.1: asking for a scope the client is not registered for is invalid_scope, asked of no one.
    async fn scope_beyond_the_registration_is_refused_at_the_authorization_endpoint(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("dee", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        // notes:write exists on this server, just not for this client.
        server.service_client(&["notes:write", "admin"]).await;
        let browser = Browser::new();
        // Signed in and already consented to what the client may have.
        let tokens = code_flow_tokens(&server, &client, "dee", "openid+notes:read").await;
        assert_eq!(tokens["scope"], "notes:read openid");
        let login = browser.get(&server.url("/login")).await;
        browser.submit(&server.base, &login, "/login", &[("username", "dee"), ("password", PASSWORD)]).await;

        for scope in ["openid+notes:read+notes:write", "admin", "notes:read+offline_access", "notes%3Aread%20notes%3Awrite"] {
            for who in [&browser, &Browser::new()] {
                let page = who
                    .get(&server.url(&format!(
                        "/oauth2/authorize?response_type=code&client_id={}&scope={scope}&state=s",
                        client.id
                    )))
                    .await;
                assert_eq!(page.status, 303, "{scope}: no login or consent page");
                let params = redirect_params(&page.location().unwrap());
                assert_eq!(params["error"], "invalid_scope", "{scope}");
                assert_eq!(params["state"], "s");
                assert!(!params.contains_key("code"), "{scope}");
            }
        }
        // Nothing was granted on the way: a plain request still gets only the registered scopes.
        let again = code_flow_tokens(&server, &client, "dee", "openid+notes:read").await;
        assert_eq!(again["scope"], "notes:read openid");
    }
}

backend_test! {
    // RFC 6749 §3.3 and §4.4.2: client credentials get at most the registered scopes, and no user scopes.
    async fn client_credentials_asking_for_more_than_registered_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["notes:read"]).await;
        server.service_client(&["notes:write", "admin"]).await;
        for scope in ["notes:read notes:write", "admin", "openid", "notes:read offline_access", "notes:*"] {
            let response = server
                .post_form("/oauth2/token", Some(&client), &[("grant_type", "client_credentials"), ("scope", scope)])
                .await;
            assert_oauth_error(response, 400, "invalid_scope").await;
        }
        // A NUL cannot smuggle a second scope in: the request is malformed as a whole.
        let response = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "client_credentials"), ("scope", "notes:read\u{0}admin")])
            .await;
        assert_oauth_error(response, 400, "invalid_request").await;
        let granted: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "client_credentials"), ("scope", "notes:read")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(granted["scope"], "notes:read", "control");
        let claims = crate::support::decode_part(granted["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["scope"], "notes:read");
    }
}

backend_test! {
    // RFC 6749 §6: a refresh may narrow the scope but never widen it beyond the user's grant.
    async fn a_refresh_asking_for_a_wider_scope_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("eli", PASSWORD).await;
        // The client may have notes:write, but the user granted only notes:read.
        let client = server.web_client(&["openid", "notes:read", "notes:write"]).await;
        let tokens = code_flow_tokens(&server, &client, "eli", "openid+notes:read").await;
        assert_eq!(tokens["scope"], "notes:read openid");
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        for scope in ["notes:read notes:write", "notes:write", "openid notes:read admin", "offline_access"] {
            let response = refresh(&server, &client, refresh_token, Some(scope)).await;
            assert_oauth_error(response, 400, "invalid_scope").await;
        }
        // The refusals did not use the token up (RFC 6749 §5.2) or widen anything.
        let rotated = refresh(&server, &client, refresh_token, None).await;
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        assert_eq!(rotated["scope"], "notes:read openid");
        let claims = crate::support::decode_part(rotated["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["scope"], "notes:read openid");
    }
}

backend_test! {
    // RFC 8628 §3.1 and RFC 6749 §3.3: a device asks for at most its registered scopes.
    async fn a_device_asking_for_more_than_registered_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let tv = crate::device::tv_client(&server).await;
        for scope in ["openid notes:read admin", "notes:write", "offline_access"] {
            let response = server
                .post_form("/oauth2/device_authorization", None, &[("client_id", tv.id.as_str()), ("scope", scope)])
                .await;
            assert_oauth_error(response, 400, "invalid_scope").await;
        }
        let granted = server
            .post_form("/oauth2/device_authorization", None, &[("client_id", tv.id.as_str()), ("scope", "notes:read")])
            .await;
        assert_eq!(granted.status(), 200, "control");
    }
}
