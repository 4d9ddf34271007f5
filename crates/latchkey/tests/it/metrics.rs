//! `GET /metrics`: request counters by route template, audit counters, key-age gauges, and
//! the admin listener that takes `/metrics` off the public port.
//!
//! Every server in this binary shares one recorder, and tests run in parallel, so a counter
//! is checked to have moved by at least what this test did, never for an exact value.

use std::time::Duration;

use latchkey_core::Clock as _;
use latchkey_core::audit::{Actor, AuditEvent, AuditKind};

use crate::support::TestServer;

/// The value of the first series of `name` that carries every one of `labels`, or 0.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            (rest.is_empty() || rest.starts_with('{')).then_some((rest, number))
        })
        .find(|(rest, _)| {
            labels
                .iter()
                .all(|(key, val)| rest.contains(&format!("{key}=\"{val}\"")))
        })
        .and_then(|(_, number)| number.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let response = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

const TOKEN_OK: [(&str, &str); 3] = [
    ("endpoint", "/oauth2/token"),
    ("method", "POST"),
    ("status", "200"),
];

#[tokio::test]
async fn a_client_credentials_grant_moves_the_request_and_audit_counters() {
    let server = TestServer::start_on(crate::support::Backend::Sqlite).await;
    let client = server.service_client(&["notes:read"]).await;
    let before = scrape(&server.http, &server.base).await;

    let token = server.token(&client, Some("notes:read")).await;
    let unknown = server
        .http
        .get(server.url("/no-such-page-5f3a9c"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // The grant recorded its TokenIssued; a rate-limit event, recorded here, shows its
    // `limit` label passes through.
    server
        .context
        .audit
        .record(
            AuditEvent::new(AuditKind::RateLimited, server.clock.now(), &Actor::Anonymous)
                .with("limit", "device_user_code"),
        )
        .await;

    let after = scrape(&server.http, &server.base).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert!(moved("latchkey_http_requests_total", &TOKEN_OK) >= 1.0, "{after}");
    assert!(
        moved(
            "latchkey_http_requests_total",
            &[("endpoint", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        moved(
            "latchkey_http_request_duration_seconds_count",
            &[("endpoint", "/oauth2/token")]
        ) >= 1.0
    );
    assert!(
        moved(
            "latchkey_tokens_issued_total",
            &[("grant_type", "client_credentials")]
        ) >= 1.0
    );
    assert!(moved("latchkey_audit_events_total", &[("kind", "token.issued")]) >= 1.0);
    assert!(
        moved(
            "latchkey_token_requests_total",
            &[("grant_type", "client_credentials"), ("outcome", "ok")]
        ) >= 1.0,
        "{after}"
    );
    // Store operations are timed by name (this server looked its client up at least once).
    assert!(
        value(
            &after,
            "latchkey_store_query_duration_seconds_count",
            &[("operation", "find_client")]
        ) >= 1.0,
        "{after}"
    );
    assert!(after.contains("# TYPE latchkey_store_query_duration_seconds histogram"));
    assert!(moved("latchkey_rate_limited_total", &[("limit", "device_user_code")]) >= 1.0);
    // Route templates only: no raw path, no client id, no token.
    assert!(!after.contains("5f3a9c"));
    assert!(!after.contains(&client.id));
    assert!(!after.contains(&client.secret));
    assert!(!after.contains(&token));
    assert!(after.contains("# TYPE latchkey_http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn an_admin_listener_alone_serves_metrics_with_the_key_ages() {
    let server = TestServer::start_with_admin_listener().await;
    let admin = server.admin_base.clone().unwrap();

    let public = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let on_admin = server
        .http
        .get(format!("{admin}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        on_admin.status(),
        404,
        "the admin listener serves only the admin surface"
    );
    let discovery = server
        .http
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);

    // The maintenance task samples key ages as it starts, then every few seconds.
    let kid = server.jwks().await["keys"][0]["kid"].as_str().unwrap().to_owned();
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(&server.http, &admin).await;
        if text.contains(&format!("kid=\"{kid}\"")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let age = value(
        &text,
        "latchkey_signing_key_age_seconds",
        &[("kid", &kid), ("state", "active")],
    );
    assert!(text.contains(&format!("kid=\"{kid}\"")), "{text}");
    assert!(age >= 0.0);
    // Pool saturation: every pool of this store reports its maximum and its busy count.
    assert!(
        value(
            &text,
            "latchkey_store_pool_max_connections",
            &[("pool", "readers")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "latchkey_store_pool_max_connections",
            &[("pool", "writer")]
        ),
        1.0
    );
    assert!(
        value(
            &text,
            "latchkey_store_pool_connections",
            &[("pool", "readers"), ("state", "idle")]
        ) >= 0.0
    );
    assert!(
        value(
            &text,
            "latchkey_http_requests_total",
            &[("endpoint", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    server.stop().await;
}
