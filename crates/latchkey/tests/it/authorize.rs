//! The authorization endpoint's rules, attacked: redirect URI tricks, PKCE downgrades, code
//! replay, CSRF, prompt handling and the legacy implicit flow.

use std::time::Duration;

use serde_json::json;

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test, redirect_params};

const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn authorize_url(server: &TestServer, client: &Registered, query: &str) -> String {
    server.url(&format!("/oauth2/authorize?client_id={}&{query}", client.id))
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

async fn exchange(
    server: &TestServer,
    auth: Option<&Registered>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("grant_type", "authorization_code")];
    all.extend_from_slice(form);
    server.post_form("/oauth2/token", auth, &all).await
}

backend_test! {
    async fn redirect_uri_tricks_get_an_error_page_and_never_a_redirect(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        for uri in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb/extra",
            "https://app.example.com/cb?x=1",
            "https://APP.example.com/cb",
            "https://app.example.com:8443/cb",
            "https://evil.example.com/cb",
            "https://app.example.com.evil.example/cb",
            "http://app.example.com/cb",
            "javascript:alert(1)",
        ] {
            let encoded: String = url::form_urlencoded::byte_serialize(uri.as_bytes()).collect();
            let page = browser
                .get(&authorize_url(
                    &server,
                    &client,
                    &format!("response_type=code&redirect_uri={encoded}"),
                ))
                .await;
            assert_eq!(page.status, 400, "{uri}");
            assert!(page.location().is_none(), "{uri} must not be redirected to");
            assert!(page.html.contains("redirect_uri is not registered"), "{uri}");
        }
        for query in ["response_type=code", "response_type=code&client_id=nobody"] {
            let page = browser
                .get(&server.url(&format!("/oauth2/authorize?{query}")))
                .await;
            assert_eq!(page.status, 400);
            assert!(page.location().is_none());
        }
        let page = browser
            .get(&server.url("/oauth2/authorize?client_id=x&client_id=y"))
            .await;
        assert_eq!(page.status, 400, "repeated parameters");
    }
}

backend_test! {
    async fn errors_after_the_redirect_uri_is_verified_go_back_to_the_client_with_state(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        for (query, error) in [
            ("state=s", "invalid_request"),
            ("response_type=code+id_token&state=s", "unsupported_response_type"),
            ("response_type=token&state=s", "unauthorized_client"),
            ("response_type=code&scope=openid+admin&state=s", "invalid_scope"),
            (
                "response_type=code&code_challenge=abc&code_challenge_method=plain&state=s",
                "invalid_request",
            ),
            ("response_type=code&prompt=none+login&state=s", "invalid_request"),
            ("response_type=code&max_age=-1&state=s", "invalid_request"),
            ("response_type=code&prompt=none&state=s", "login_required"),
        ] {
            let page = browser.get(&authorize_url(&server, &client, query)).await;
            assert_eq!(page.status, 303, "{query}");
            let location = page.location().unwrap();
            assert!(location.starts_with("https://app.example.com/cb"), "{query}");
            let params = redirect_params(&location);
            assert_eq!(params["error"], error, "{query}");
            assert_eq!(params["state"], "s");
            assert_eq!(params["iss"], server.base);
        }
    }
}

backend_test! {
    async fn public_clients_need_s256_pkce_and_loopback_ports_may_vary(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("dana", PASSWORD).await;
        let client = public_client(&server).await;
        let browser = Browser::new();

        let no_pkce = browser
            .get(&authorize_url(&server, &client, "response_type=code&state=s"))
            .await;
        assert_eq!(
            redirect_params(&no_pkce.location().unwrap())["error"],
            "invalid_request"
        );

        let query = format!(
            "response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A51234%2Fcallback&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s"
        );
        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, &query),
                ("dana", PASSWORD),
            )
            .await;
        let code = params["code"].clone();
        let redirect = "http://127.0.0.1:51234/callback";

        let wrong = exchange(
            &server,
            None,
            &[
                ("code", &code),
                ("client_id", &client.id),
                ("redirect_uri", redirect),
                ("code_verifier", &VERIFIER.replace('d', "e")),
            ],
        )
        .await;
        assert_oauth_error(wrong, 400, "invalid_grant").await;
        // The failed attempt spent the code: the right verifier is now a replay.
        let late = exchange(
            &server,
            None,
            &[
                ("code", &code),
                ("client_id", &client.id),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_oauth_error(late, 400, "invalid_grant").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, &query),
                ("dana", PASSWORD),
            )
            .await;
        let missing = exchange(
            &server,
            None,
            &[
                ("code", &params["code"]),
                ("client_id", &client.id),
                ("redirect_uri", redirect),
            ],
        )
        .await;
        assert_oauth_error(missing, 400, "invalid_grant").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, &query),
                ("dana", PASSWORD),
            )
            .await;
        let secret = exchange(
            &server,
            None,
            &[
                ("code", &params["code"]),
                ("client_id", &client.id),
                ("client_secret", "x"),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_oauth_error(secret, 401, "invalid_client").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, &query),
                ("dana", PASSWORD),
            )
            .await;
        let ok = exchange(
            &server,
            None,
            &[
                ("code", &params["code"]),
                ("client_id", &client.id),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.unwrap();
        assert!(body["refresh_token"].is_string());
        assert!(body["id_token"].is_string());
    }
}

backend_test! {
    async fn a_verifier_for_a_code_issued_without_a_challenge_is_a_refused_downgrade(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("erin", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, "response_type=code"),
                ("erin", PASSWORD),
            )
            .await;
        let response = exchange(
            &server,
            Some(&client),
            &[("code", &params["code"]), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_oauth_error(response, 400, "invalid_grant").await;
    }
}

backend_test! {
    async fn a_replayed_code_fails_and_revokes_what_the_first_redemption_issued(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("frank", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let browser = Browser::new();
        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, "response_type=code&scope=notes:read"),
                ("frank", PASSWORD),
            )
            .await;
        let first = exchange(&server, Some(&client), &[("code", &params["code"])]).await;
        assert_eq!(first.status(), 200);
        let first: serde_json::Value = first.json().await.unwrap();
        let access = first["access_token"].as_str().unwrap();
        assert_eq!(server.introspect(&client, access).await["active"], true);

        let second = exchange(&server, Some(&client), &[("code", &params["code"])]).await;
        assert_oauth_error(second, 400, "invalid_grant").await;
        assert_eq!(
            server.introspect(&client, access).await,
            json!({"active": false}),
            "RFC 6749 4.1.2"
        );
        let refresh = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_oauth_error(refresh, 400, "invalid_grant").await;
    }
}

backend_test! {
    async fn codes_are_bound_to_client_and_redirect_uri_and_expire_after_60_seconds(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("gina", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let other = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let with_redirect = "response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb";

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, with_redirect),
                ("gina", PASSWORD),
            )
            .await;
        let stolen = exchange(
            &server,
            Some(&other),
            &[
                ("code", &params["code"]),
                ("redirect_uri", "https://app.example.com/cb"),
            ],
        )
        .await;
        assert_oauth_error(stolen, 400, "invalid_grant").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, with_redirect),
                ("gina", PASSWORD),
            )
            .await;
        let missing = exchange(&server, Some(&client), &[("code", &params["code"])]).await;
        assert_oauth_error(missing, 400, "invalid_request").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, with_redirect),
                ("gina", PASSWORD),
            )
            .await;
        let other_uri = exchange(
            &server,
            Some(&client),
            &[
                ("code", &params["code"]),
                ("redirect_uri", "https://app.example.com/other"),
            ],
        )
        .await;
        assert_oauth_error(other_uri, 400, "invalid_grant").await;

        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, with_redirect),
                ("gina", PASSWORD),
            )
            .await;
        server.clock.advance(Duration::from_secs(61));
        let expired = exchange(
            &server,
            Some(&client),
            &[
                ("code", &params["code"]),
                ("redirect_uri", "https://app.example.com/cb"),
            ],
        )
        .await;
        assert_oauth_error(expired, 400, "invalid_grant").await;

        let garbage = exchange(&server, Some(&client), &[("code", "not-a-code")]).await;
        assert_oauth_error(garbage, 400, "invalid_grant").await;
    }
}

backend_test! {
    async fn forms_without_a_valid_csrf_token_are_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("hank", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let consent = browser
            .authorize(
                &server,
                &authorize_url(&server, &client, "response_type=code&state=s"),
                ("hank", PASSWORD),
            )
            .await;
        assert_eq!(consent.status, 200);
        for token in ["", "forged"] {
            let page = browser
                .submit(
                    &server.base,
                    &consent,
                    "/oauth2/authorize",
                    &[("decision", "allow"), ("csrf_token", token)],
                )
                .await;
            assert_eq!(page.status, 403, "{token:?}");
            assert!(page.location().is_none());
        }
        // Another browser (no CSRF cookie) replaying a valid-looking form is refused too.
        let attacker = Browser::new();
        let page = attacker
            .submit(
                &server.base,
                &consent,
                "/oauth2/authorize",
                &[("decision", "allow")],
            )
            .await;
        assert_eq!(page.status, 403);

        let login = Browser::new();
        let page = login
            .post(
                &server.url("/login"),
                &[
                    ("username".into(), "hank".into()),
                    ("password".into(), PASSWORD.into()),
                ],
            )
            .await;
        assert_eq!(page.status, 403);
    }
}

backend_test! {
    async fn prompt_none_answers_without_pages_and_consent_required_when_it_must_ask(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("iris", PASSWORD).await;
        let client = server.web_client(&["openid", "profile"]).await;
        let browser = Browser::new();
        browser
            .approve(
                &server,
                &authorize_url(&server, &client, "response_type=code&scope=openid"),
                ("iris", PASSWORD),
            )
            .await;

        let silent = browser
            .get(&authorize_url(
                &server,
                &client,
                "response_type=code&scope=openid&prompt=none",
            ))
            .await;
        assert!(redirect_params(&silent.location().unwrap()).contains_key("code"));
        let needs_consent = browser
            .get(&authorize_url(
                &server,
                &client,
                "response_type=code&scope=openid+profile&prompt=none",
            ))
            .await;
        assert_eq!(
            redirect_params(&needs_consent.location().unwrap())["error"],
            "consent_required"
        );

        // prompt=login, and max_age once exceeded, send a logged-in user back to the login page.
        server.clock.advance(Duration::from_secs(1));
        for query in [
            "response_type=code&scope=openid&prompt=login",
            "response_type=code&scope=openid&max_age=0",
        ] {
            let page = browser.get(&authorize_url(&server, &client, query)).await;
            assert!(page.location().unwrap().starts_with("/login?"), "{query}");
        }
        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &client, "response_type=code&scope=openid&prompt=login"),
                ("iris", PASSWORD),
            )
            .await;
        assert!(
            params.contains_key("code"),
            "after logging in again the flow completes"
        );
    }
}

backend_test! {
    async fn the_implicit_flow_is_only_for_clients_registered_for_it(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("jack", PASSWORD).await;
        let spa = server
            .register(|r| {
                r.name = "Legacy SPA".into();
                r.public = true;
                r.grant_types = vec!["implicit".into()];
                r.redirect_uris = vec!["https://spa.example.com/".into()];
                r.scopes = vec!["openid".into(), "notes:read".into()];
            })
            .await;
        let browser = Browser::new();
        let params = browser
            .approve(
                &server,
                &authorize_url(&server, &spa, "response_type=token&scope=notes:read&state=s"),
                ("jack", PASSWORD),
            )
            .await;
        assert_eq!(params["token_type"], "Bearer");
        assert_eq!(params["state"], "s");
        assert!(
            !params.contains_key("refresh_token"),
            "never a refresh token in a URL"
        );
        assert_eq!(
            server
                .introspect(&server.service_client(&[]).await, &params["access_token"])
                .await["active"],
            true
        );

        let no_nonce = browser
            .get(&authorize_url(
                &server,
                &spa,
                "response_type=id_token+token&scope=openid&state=s",
            ))
            .await;
        let location = no_nonce.location().unwrap();
        assert!(location.contains('#'), "implicit errors travel in the fragment");
        assert_eq!(redirect_params(&location)["error"], "invalid_request");
        let with_id = browser
            .approve(
                &server,
                &authorize_url(
                    &server,
                    &spa,
                    "response_type=id_token+token&scope=openid&nonce=n1",
                ),
                ("jack", PASSWORD),
            )
            .await;
        assert!(with_id.contains_key("id_token"));

        let code_only = server.web_client(&["openid"]).await;
        let refused = browser
            .get(&authorize_url(&server, &code_only, "response_type=token&state=s"))
            .await;
        assert_eq!(
            redirect_params(&refused.location().unwrap())["error"],
            "unauthorized_client"
        );
    }
}
