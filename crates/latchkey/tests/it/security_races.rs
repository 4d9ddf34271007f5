//! Races tested as races (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14.2; RFC 8628 §3.5): twenty
//! parallel redemptions of one authorization code, one refresh token (with the grace
//! window off) and one approved device code each yield exactly one success, on SQLite and
//! on PostgreSQL, with a multi-threaded server.

use std::time::Duration;

use serde_json::Value;

use crate::device::{PASSWORD, approve, start, tv_client};
use crate::support::{Backend, Browser, Registered, TestServer};

const RACERS: usize = 20;

/// Sends `form` to the token endpoint `RACERS` times at once, each from its own task;
/// returns the statuses.
async fn race(server: &TestServer, basic: Option<&Registered>, form: &[(&str, &str)]) -> Vec<u16> {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let mut request = server.http.post(server.url("/oauth2/token")).form(&form);
        if let Some(client) = basic {
            request = request.basic_auth(&client.id, Some(&client.secret));
        }
        racers.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    racers.join_all().await
}

fn exactly_one_success(statuses: &[u16], what: &str) {
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, 1, "{what}: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{what}: only 200 and 400: {statuses:?}"
    );
}

async fn races(backend: Backend) {
    let server = TestServer::start_configured(backend, |config| config.refresh_grace = Duration::ZERO).await;
    server.user("tess", PASSWORD).await;
    let web = server.web_client(&["openid"]).await;
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
        web.id
    ));

    // One code, twenty redemptions.
    let code = Browser::new().approve(&server, &url, ("tess", PASSWORD)).await["code"].clone();
    let statuses = race(
        &server,
        Some(&web),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    exactly_one_success(&statuses, "one authorization code");

    // One refresh token, twenty rotations, no grace window.
    let code = Browser::new().approve(&server, &url, ("tess", PASSWORD)).await["code"].clone();
    let tokens: Value = server
        .post_form(
            "/oauth2/token",
            Some(&web),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let statuses = race(
        &server,
        Some(&web),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    exactly_one_success(&statuses, "one refresh token");

    // One approved device code, twenty polls.
    let tv = tv_client(&server).await;
    let started = start(&server, &tv).await;
    let device_code = started["device_code"].as_str().unwrap().to_owned();
    let done = approve(
        &server,
        &Browser::new(),
        started["verification_uri_complete"].as_str().unwrap(),
        "allow",
    )
    .await;
    assert_eq!(done.status, 200);
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let statuses = race(
        &server,
        None,
        &[
            ("grant_type", grant),
            ("device_code", &device_code),
            ("client_id", &tv.id),
        ],
    )
    .await;
    exactly_one_success(&statuses, "one device code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_yield_one_success_on_sqlite() {
    races(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_yield_one_success_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
        return;
    };
    races(backend).await;
}
