//! Refresh-token rotation (RFC 9700 §4.14.2): every use rotates; reuse after the grace
//! window revokes the whole family; honest concurrent refreshes inside it all succeed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test};

const PASSWORD: &str = "correct horse battery staple";

/// Logs a user in and returns the code exchange's tokens.
async fn tokens(server: &TestServer, client: &Registered, scope: &str) -> Value {
    server.user("kim", PASSWORD).await;
    let browser = Browser::new();
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope={scope}",
        client.id
    ));
    let params = browser.approve(server, &url, ("kim", PASSWORD)).await;
    let response = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &params["code"])],
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

async fn refreshed(server: &TestServer, client: &Registered, token: &str) -> Value {
    let response = refresh(server, client, token, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

backend_test! {
    async fn reuse_after_the_grace_window_revokes_the_whole_family(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let first = tokens(&server, &client, "openid+notes:read").await;
        let original = first["refresh_token"].as_str().unwrap().to_owned();

        let second = refreshed(&server, &client, &original).await;
        assert_ne!(second["refresh_token"], first["refresh_token"]);
        assert!(
            second["id_token"].is_string(),
            "openid refreshes carry a new ID token"
        );
        let successor = second["refresh_token"].as_str().unwrap().to_owned();
        let live_access = second["access_token"].as_str().unwrap().to_owned();

        server.clock.advance(Duration::from_secs(6));
        let replay = refresh(&server, &client, &original, None).await;
        let body = assert_oauth_error(replay, 400, "invalid_grant").await;
        assert!(body["error_description"].as_str().unwrap().contains("reuse"));

        // Everything in the family is dead: the successor and the access tokens.
        assert_oauth_error(
            refresh(&server, &client, &successor, None).await,
            400,
            "invalid_grant",
        )
        .await;
        assert_eq!(
            server.introspect(&client, &live_access).await,
            json!({"active": false})
        );
        assert_eq!(
            server
                .introspect(&client, first["access_token"].as_str().unwrap())
                .await,
            json!({"active": false})
        );
    }
}

backend_test! {
    async fn a_retry_inside_the_grace_window_gets_a_sibling_that_dies_with_the_family(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let first = tokens(&server, &client, "openid").await;
        let original = first["refresh_token"].as_str().unwrap().to_owned();

        let a = refreshed(&server, &client, &original).await;
        server.clock.advance(Duration::from_secs(5));
        let b = refreshed(&server, &client, &original).await;
        assert_ne!(
            a["refresh_token"], b["refresh_token"],
            "a sibling, not the same token"
        );
        let sibling = b["refresh_token"].as_str().unwrap().to_owned();
        let _ = refreshed(&server, &client, &sibling).await;

        server.clock.advance(Duration::from_secs(1));
        assert_oauth_error(
            refresh(&server, &client, &original, None).await,
            400,
            "invalid_grant",
        )
        .await;
        assert_oauth_error(
            refresh(&server, &client, a["refresh_token"].as_str().unwrap(), None).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

backend_test! {
    async fn many_concurrent_refreshes_of_one_token_all_succeed(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let first = tokens(&server, &client, "openid").await;
        let original = first["refresh_token"].as_str().unwrap().to_owned();
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (http, url) = (server.http.clone(), server.url("/oauth2/token"));
            let (id, secret, token) = (client.id.clone(), client.secret.clone(), original.clone());
            attempts.spawn(async move {
                let form = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
                http.post(url)
                    .basic_auth(id, Some(secret))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        for status in attempts.join_all().await {
            assert_eq!(status, 200, "an honest concurrent refresh is never logged out");
        }
    }
}

backend_test! {
    async fn a_refresh_may_narrow_the_scope_but_never_widen_it(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid", "notes:read", "notes:write"]).await;
        let first = tokens(&server, &client, "openid+notes:read").await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();

        let wider = refresh(&server, &client, &token, Some("openid notes:read notes:write")).await;
        assert_oauth_error(wider, 400, "invalid_scope").await;
        let narrower = refresh(&server, &client, &token, Some("notes:read")).await;
        assert_eq!(narrower.status(), 200);
        let body: Value = narrower.json().await.unwrap();
        assert_eq!(body["scope"], "notes:read");
        assert!(body.get("id_token").is_none(), "no openid, no ID token");
    }
}

backend_test! {
    async fn refresh_tokens_are_bound_to_their_client_and_expire_when_idle(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let other = server.web_client(&["openid"]).await;
        let first = tokens(&server, &client, "openid").await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();
        assert_oauth_error(refresh(&server, &other, &token, None).await, 400, "invalid_grant").await;
        assert_oauth_error(
            refresh(&server, &client, "garbage", None).await,
            400,
            "invalid_grant",
        )
        .await;

        let second = tokens_again(&server, &client).await;
        server.clock.advance(Duration::from_secs(7 * 86_400 + 1));
        let idle = refresh(&server, &client, second["refresh_token"].as_str().unwrap(), None).await;
        assert_oauth_error(idle, 400, "invalid_grant").await;

        let cc_only = server.service_client(&[]).await;
        let response = refresh(&server, &cc_only, &token, None).await;
        assert_oauth_error(response, 400, "unauthorized_client").await;
    }
}

async fn tokens_again(server: &TestServer, client: &Registered) -> Value {
    let browser = Browser::new();
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
        client.id
    ));
    let params = browser.approve(server, &url, ("kim", PASSWORD)).await;
    let response = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &params["code"])],
        )
        .await;
    response.json().await.unwrap()
}

backend_test! {
    async fn revoking_a_refresh_token_ends_the_grant_and_its_access_tokens(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let other = server.web_client(&["openid"]).await;
        let first = tokens(&server, &client, "openid").await;
        let refresh_token = first["refresh_token"].as_str().unwrap();
        let access = first["access_token"].as_str().unwrap();

        let foreign = server
            .post_form("/oauth2/revoke", Some(&other), &[("token", refresh_token), ("token_type_hint", "refresh_token")])
            .await;
        assert_oauth_error(foreign, 400, "unauthorized_client").await;

        let revoked = server
            .post_form("/oauth2/revoke", Some(&client), &[("token", refresh_token), ("token_type_hint", "refresh_token")])
            .await;
        assert_eq!(revoked.status(), 200);
        assert_oauth_error(refresh(&server, &client, refresh_token, None).await, 400, "invalid_grant").await;
        assert_eq!(server.introspect(&client, access).await, json!({"active": false}), "RFC 7009 2.1");
    }
}

backend_test! {
    async fn a_refused_refresh_does_not_use_the_token_up_and_scope_is_judged_against_the_grant(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid", "notes:read", "notes:write"]).await;
        let first = tokens(&server, &client, "openid+notes:read").await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();

        let wider = refresh(&server, &client, &token, Some("openid notes:read notes:write")).await;
        assert_oauth_error(wider, 400, "invalid_scope").await;
        server.clock.advance(Duration::from_secs(6));
        let narrowed = refreshed_with(&server, &client, &token, "notes:read").await;
        assert_eq!(narrowed["scope"], "notes:read", "the refused request did not spend the token");

        let next = narrowed["refresh_token"].as_str().unwrap();
        let back = refreshed_with(&server, &client, next, "openid notes:read").await;
        assert_eq!(back["scope"], "notes:read openid", "the original grant is still the measure");
        let default = refreshed(&server, &client, back["refresh_token"].as_str().unwrap()).await;
        assert_eq!(default["scope"], "notes:read openid", "no scope means the whole grant");
    }
}

async fn refreshed_with(server: &TestServer, client: &Registered, token: &str, scope: &str) -> Value {
    let response = refresh(server, client, token, Some(scope)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

backend_test! {
    async fn a_refresh_token_introspects_for_its_own_client_until_rotated(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let other = server.web_client(&["openid"]).await;
        let first = tokens(&server, &client, "openid").await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();
        let body = server.introspect(&client, &token).await;
        assert_eq!(body["active"], true);
        assert_eq!(body["token_type"], "refresh_token");
        assert_eq!(body["client_id"], client.id);
        assert_eq!(body["scope"], "openid");
        assert_eq!(server.introspect(&other, &token).await, json!({"active": false}), "not another client's");
        let _ = refreshed(&server, &client, &token).await;
        assert_eq!(server.introspect(&client, &token).await, json!({"active": false}), "rotated");
    }
}
