//! Several Latchkey nodes on one database: nothing about a token depends on which node
//! served it, and every single-use rule holds when nodes race.

use std::time::Duration;

use latchkey_core::Clock as _;
use latchkey_core::id::ClientId;
use latchkey_core::keys::{self, Algorithm, KeySealer};
use serde_json::json;

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test, decode_part};

const PASSWORD: &str = "correct horse battery staple";

async fn code(server: &TestServer, client: &Registered, browser: &Browser) -> String {
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
        client.id
    ));
    browser.approve(server, &url, ("uma", PASSWORD)).await["code"].clone()
}

async fn exchange(server: &TestServer, client: &Registered, form: Vec<(&'static str, String)>) -> u16 {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    server
        .post_form("/oauth2/token", Some(client), &form)
        .await
        .status()
        .as_u16()
}

backend_test! {
    async fn a_token_from_node_a_introspects_and_revokes_on_node_b(backend) {
        let node_a = TestServer::start_on(backend.clone()).await;
        let node_b = node_a.restart_alongside().await;
        let client = node_a.service_client(&["a"]).await;
        let token = node_a.token(&client, Some("a")).await;
        assert_eq!(node_b.introspect(&client, &token).await["active"], true);
        let revoked = node_b.post_form("/oauth2/revoke", Some(&client), &[("token", &token)]).await;
        assert_eq!(revoked.status(), 200);
        assert_eq!(node_b.introspect(&client, &token).await, json!({"active": false}), "at once on B");
        node_a.context.sync_revocations().await.unwrap();
        assert_eq!(node_a.introspect(&client, &token).await, json!({"active": false}), "on A after its sync");
    }
}

backend_test! {
    async fn one_code_sent_to_both_nodes_at_once_is_redeemed_exactly_once(backend) {
        let node_a = TestServer::start_on(backend.clone()).await;
        let node_b = node_a.restart_alongside().await;
        node_a.user("uma", PASSWORD).await;
        let client = node_a.web_client(&["openid"]).await;
        let browser = Browser::new();
        for round in 0..10 {
            let code = code(&node_a, &client, &browser).await;
            let form = || vec![("grant_type", "authorization_code".to_owned()), ("code", code.clone())];
            let (a, b) = tokio::join!(exchange(&node_a, &client, form()), exchange(&node_b, &client, form()));
            let mut statuses = [a, b];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 400], "round {round}: exactly one node wins");
        }
    }
}

backend_test! {
    async fn one_refresh_token_raced_on_both_nodes_rotates_once_and_reuse_later_revokes(backend) {
        let node_a = TestServer::start_on(backend.clone()).await;
        let node_b = node_a.restart_alongside().await;
        node_a.user("uma", PASSWORD).await;
        let client = node_a.web_client(&["openid"]).await;
        let code = code(&node_a, &client, &Browser::new()).await;
        let response = node_a
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await;
        let tokens: serde_json::Value = response.json().await.unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let form = || vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh.clone())];
        let (a, b) = tokio::join!(exchange(&node_a, &client, form()), exchange(&node_b, &client, form()));
        assert_eq!((a, b), (200, 200), "honest concurrent refreshes on two nodes both succeed (grace window)");
        node_a.clock.advance(Duration::from_secs(6));
        assert_eq!(exchange(&node_b, &client, form()).await, 400, "reuse after the window");
    }
}

backend_test! {
    async fn a_key_rotated_through_node_a_signs_and_verifies_on_node_b(backend) {
        let node_a = TestServer::start_on(backend.clone()).await;
        let node_b = node_a.restart_alongside().await;
        let client = node_a.service_client(&[]).await;
        let sealer = KeySealer::new(node_a.master()).unwrap();
        let now = node_a.clock.now();
        let key = keys::rotate(node_a.store(), &sealer, Algorithm::Es256, now, Duration::from_secs(3600)).await.unwrap();
        node_a.context.refresh_keys().await.unwrap();
        node_b.context.refresh_keys().await.unwrap();
        let kids = |jwks: serde_json::Value| -> Vec<String> {
            jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
        };
        assert!(kids(node_b.jwks().await).contains(&key.kid.to_string()), "B publishes A's next key");
        node_a.clock.advance(Duration::from_secs(3600));
        let token = node_a.token(&client, None).await;
        assert_eq!(decode_part(&token, 0)["kid"], key.kid.as_str());
        assert_eq!(node_b.introspect(&client, &token).await["active"], true);
    }
}

backend_test! {
    async fn a_deleted_client_stops_working_on_every_node_within_the_cache_lifetime(backend) {
        let node = TestServer::start_on(backend.clone()).await;
        let client = node.service_client(&[]).await;
        let _ = node.token(&client, None).await;
        assert!(node.store().delete_client(&ClientId::new(client.id.clone())).await.unwrap());
        let cached = node.post_form("/oauth2/token", Some(&client), &[("grant_type", "client_credentials")]).await;
        assert_eq!(cached.status(), 200, "served from the cache for up to LATCHKEY_CACHE_TTL (5 s)");
        node.clock.advance(Duration::from_secs(5));
        let gone = node.post_form("/oauth2/token", Some(&client), &[("grant_type", "client_credentials")]).await;
        assert_oauth_error(gone, 401, "invalid_client").await;
    }
}
