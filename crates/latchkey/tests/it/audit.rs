//! The audit trail seen from outside: a full flow leaves its events, filterable by user,
//! client and kind, and not one stored event holds a token, code, secret or password.

use std::time::Duration;

use latchkey_core::audit::{AuditEvent, AuditKind, AuditQuery};
use latchkey_core::id::{ClientId, UserId};
use serde_json::Value;

use crate::support::{Browser, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "not my password at all";

/// Events matching `query`, once `done` holds for them (events are written in batches).
async fn events_until(
    server: &TestServer,
    query: &AuditQuery,
    done: impl Fn(&[AuditEvent]) -> bool,
) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    for _ in 0..50 {
        events = server.store().list_audit_events(query).await.unwrap();
        if done(&events) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the audit trail never showed what was expected: {events:#?}");
}

fn grant_types(events: &[AuditEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| e.detail.get("grant_type").and_then(Value::as_str))
        .collect()
}

backend_test! {
    async fn a_full_flow_is_audited_without_a_single_secret(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("alice", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid%20notes:read&state=s",
            client.id
        ));

        // A wrong password first, then the real flow: login, consent, code, refresh, revoke.
        let browser = Browser::new();
        let refused = browser.authorize(&server, &url, ("alice", WRONG_PASSWORD)).await;
        assert!(refused.html.contains("Invalid username or password."), "{}", refused.html);
        let code = browser.approve(&server, &url, ("alice", PASSWORD)).await["code"].clone();
        let first: Value = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "authorization_code"), ("code", &code)],
            )
            .await
            .json()
            .await
            .unwrap();
        let refresh = first["refresh_token"].as_str().unwrap();
        let second: Value = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await
            .json()
            .await
            .unwrap();
        let successor = second["refresh_token"].as_str().unwrap();
        let revoked = server
            .post_form("/oauth2/revoke", Some(&client), &[("token", successor)])
            .await;
        assert_eq!(revoked.status(), 200);

        // Everything about alice, newest first, once the revocation is in.
        let about_alice = AuditQuery {
            subject: Some(UserId::new(sub.clone())),
            limit: 100,
            ..AuditQuery::default()
        };
        let events = events_until(&server, &about_alice, |events| {
            events.first().is_some_and(|e| e.kind == AuditKind::TokenRevoked)
        })
        .await;
        let mut kinds: Vec<AuditKind> = events.iter().map(|e| e.kind).collect();
        kinds.reverse();
        assert_eq!(
            kinds,
            [
                AuditKind::LoginFailed,
                AuditKind::LoginSucceeded,
                AuditKind::ConsentGiven,
                AuditKind::TokenIssued,
                AuditKind::RefreshRotated,
                AuditKind::TokenIssued,
                AuditKind::TokenRevoked,
            ]
        );
        let failed = events.iter().find(|e| e.kind == AuditKind::LoginFailed).unwrap();
        assert_eq!(failed.actor, "anonymous");
        let consent = events.iter().find(|e| e.kind == AuditKind::ConsentGiven).unwrap();
        assert_eq!(consent.actor, format!("user:{sub}"));
        assert_eq!(consent.detail["scope"], "notes:read openid");
        assert!(
            events
                .iter()
                .filter(|e| e.kind != AuditKind::LoginFailed && e.kind != AuditKind::LoginSucceeded)
                .all(|e| e.client_id.as_ref().map(ClientId::as_str) == Some(client.id.as_str())),
            "every grant event names the client"
        );

        // Filtered by kind: the two issuances, with their grant types and jtis.
        let issued = server
            .store()
            .list_audit_events(&AuditQuery {
                kind: Some(AuditKind::TokenIssued),
                client_id: Some(ClientId::new(client.id.clone())),
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(grant_types(&issued), ["refresh_token", "authorization_code"]);
        assert!(issued.iter().all(|e| e.detail["jti"].as_str().is_some_and(|j| !j.is_empty())));
        assert!(issued.iter().all(|e| e.detail["grant_id"] == events[0].detail["grant_id"]));

        // No secret anywhere in the trail.
        let all = server
            .store()
            .list_audit_events(&AuditQuery { limit: 1000, ..AuditQuery::default() })
            .await
            .unwrap();
        let stored: String = all.iter().map(|e| e.to_json().to_string()).collect();
        for secret in [
            first["access_token"].as_str().unwrap(),
            first["id_token"].as_str().unwrap(),
            second["access_token"].as_str().unwrap(),
            refresh,
            successor,
            code.as_str(),
            client.secret.as_str(),
            PASSWORD,
            WRONG_PASSWORD,
        ] {
            assert!(!stored.contains(secret), "the audit trail holds a secret: {secret}");
        }
    }
}

backend_test! {
    async fn refresh_reuse_and_code_replay_are_audited_with_the_grant_they_revoked(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("bob", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
            client.id
        ));
        let code = Browser::new().approve(&server, &url, ("bob", PASSWORD)).await["code"].clone();
        let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
        let tokens: Value = server.post_form("/oauth2/token", Some(&client), &form).await.json().await.unwrap();
        let replay = server.post_form("/oauth2/token", Some(&client), &form).await;
        assert_eq!(replay.status(), 400);

        let code = Browser::new().approve(&server, &url, ("bob", PASSWORD)).await["code"].clone();
        let tokens2: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await
            .json()
            .await
            .unwrap();
        let old = tokens2["refresh_token"].as_str().unwrap();
        let rotate = [("grant_type", "refresh_token"), ("refresh_token", old)];
        assert_eq!(server.post_form("/oauth2/token", Some(&client), &rotate).await.status(), 200);
        server.clock.advance(Duration::from_secs(60));
        assert_eq!(server.post_form("/oauth2/token", Some(&client), &rotate).await.status(), 400);

        let query = AuditQuery {
            subject: Some(UserId::new(sub)),
            limit: 100,
            ..AuditQuery::default()
        };
        let events = events_until(&server, &query, |events| {
            events.iter().any(|e| e.kind == AuditKind::RefreshReuseDetected)
        })
        .await;
        let reuse = events.iter().find(|e| e.kind == AuditKind::RefreshReuseDetected).unwrap();
        assert!(reuse.detail["grant_id"].as_str().is_some_and(|g| !g.is_empty()));
        let replayed = server
            .store()
            .list_audit_events(&AuditQuery {
                kind: Some(AuditKind::CodeReplayed),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(replayed.len(), 1, "one replay");
        let first_grant = events
            .iter()
            .rev()
            .find(|e| e.kind == AuditKind::TokenIssued)
            .map(|e| e.detail["grant_id"].clone())
            .unwrap();
        assert_eq!(replayed[0].detail["grant_id"], first_grant, "the replayed code's grant");
        assert!(tokens["access_token"].is_string());
    }
}
