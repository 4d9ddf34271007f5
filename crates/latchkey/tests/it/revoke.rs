//! Revocation (RFC 7009): a client revokes its own tokens; revoked tokens stay inactive
//! across restarts; unknown tokens are fine; other clients' tokens are not.

use serde_json::json;

use crate::support::{TestServer, assert_oauth_error, backend_test};

backend_test! {
    async fn a_revoked_token_is_inactive_from_then_on_also_after_a_restart(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["a"]).await;
        let token = server.token(&client, Some("a")).await;
        let kept = server.token(&client, Some("a")).await;

        // The oauth2 crate refuses to revoke over plain http, so this is raw reqwest.
        let response = server
            .post_form("/oauth2/revoke", Some(&client), &[("token", &token)])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "");

        assert_eq!(server.introspect(&client, &token).await, json!({"active": false}));
        assert_eq!(
            server.introspect(&client, &kept).await["active"],
            true,
            "only that token"
        );

        let restarted = server.restart_alongside().await;
        server.stop().await;
        assert_eq!(
            restarted.introspect(&client, &token).await,
            json!({"active": false})
        );
        assert_eq!(restarted.introspect(&client, &kept).await["active"], true);
    }
}

backend_test! {
    async fn revoking_twice_or_revoking_unknown_tokens_answers_200(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let token = server.token(&client, None).await;
        for value in [token.as_str(), token.as_str(), "unknown", "a.b.c"] {
            let response = server
                .post_form(
                    "/oauth2/revoke",
                    Some(&client),
                    &[("token", value), ("token_type_hint", "access_token")],
                )
                .await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-store");
        }
        let response = server
            .post_form(
                "/oauth2/revoke",
                Some(&client),
                &[("token", "x"), ("token_type_hint", "weird")],
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "an unknown hint is ignored (RFC 7009 section 2.1)"
        );
    }
}

backend_test! {
    async fn a_client_cannot_revoke_another_clients_token(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let owner = server.service_client(&[]).await;
        let other = server.service_client(&[]).await;
        let token = server.token(&owner, None).await;
        let response = server
            .post_form("/oauth2/revoke", Some(&other), &[("token", &token)])
            .await;
        assert_oauth_error(response, 400, "unauthorized_client").await;
        assert_eq!(server.introspect(&owner, &token).await["active"], true);
    }
}

backend_test! {
    async fn revocation_needs_client_authentication(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&[]).await;
        let token = server.token(&client, None).await;
        let response = server
            .post_form("/oauth2/revoke", None, &[("token", &token)])
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;
        let response = server
            .post_form(
                "/oauth2/revoke",
                None,
                &[("token", &token), ("client_id", &client.id)],
            )
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;
        let response = server.post_form("/oauth2/revoke", Some(&client), &[]).await;
        assert_oauth_error(response, 400, "invalid_request").await;
        assert_eq!(server.introspect(&client, &token).await["active"], true);
    }
}

backend_test! {
    async fn a_revocation_on_one_node_reaches_another_within_the_cache_lifetime(backend) {
        let node_a = TestServer::start_on(backend.clone()).await;
        let node_b = node_a.restart_alongside().await;
        let client = node_a.service_client(&[]).await;
        let token = node_a.token(&client, None).await;
        assert_eq!(node_b.introspect(&client, &token).await["active"], true);
        let response = node_a
            .post_form("/oauth2/revoke", Some(&client), &[("token", &token)])
            .await;
        assert_eq!(response.status(), 200);
        node_b.context.sync_revocations().await.unwrap();
        assert_eq!(node_b.introspect(&client, &token).await, json!({"active": false}));
    }
}
