//! Abuse limits (RFC 6819 §5.1.4.2.3, §5.2.3.7; RFC 9700 §4.15): the token endpoint per
//! client, the login form per address and, after failures, per account with an
//! exponential back-off that a real user outlasts in seconds. Every refusal is a 429 with
//! `Retry-After` (and RFC 6749-shaped JSON at the token endpoint).

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Backend, Browser, TestServer};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn the_token_endpoint_limits_each_client_and_says_when_to_retry() {
    // 5 per second with bursts of 10.
    let server = TestServer::start_configured(Backend::Sqlite, |c| c.token_rate_limit = 5).await;
    let noisy = server.service_client(&["notes:read"]).await;
    let quiet = server.service_client(&["notes:read"]).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            server
                .post_form(
                    "/oauth2/token",
                    Some(&noisy),
                    &[("grant_type", "client_credentials")],
                )
                .await,
        );
    }
    let refused = statuses.pop().unwrap();
    assert_eq!(statuses[0].status(), 200);
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(refused.headers()["cache-control"], "no-store");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // A wrong secret counts too: guessing is throttled like any other flood.
    let guess = crate::support::Registered {
        id: noisy.id.clone(),
        secret: "not-the-secret".into(),
    };
    let guessed = server
        .post_form(
            "/oauth2/token",
            Some(&guess),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(guessed.status(), 429);
    server.token(&quiet, None).await;
    tokio::time::sleep(Duration::from_secs(retry)).await;
    server.token(&noisy, None).await;
}

async fn try_login(
    server: &TestServer,
    browser: &Browser,
    username: &str,
    password: &str,
) -> crate::support::Page {
    let form = browser.get(&server.url("/login")).await;
    browser
        .submit(
            &server.base,
            &form,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
}

#[tokio::test]
async fn logins_are_limited_per_address() {
    let server = TestServer::start_configured(Backend::Sqlite, |c| c.login_rate_limit = 5).await;
    server.user("ann", PASSWORD).await;
    let browser = Browser::new();
    for _ in 0..5 {
        assert_eq!(
            try_login(&server, &browser, "nobody", "guess guess guess")
                .await
                .status,
            200
        );
    }
    let limited = try_login(&server, &browser, "ann", PASSWORD).await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(
        limited.html.contains("Too many sign-in attempts"),
        "{}",
        limited.html
    );
    // Another address is not affected.
    let elsewhere = Browser::from(Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(try_login(&server, &elsewhere, "ann", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn failed_logins_back_off_per_account_without_locking_the_owner_out_for_long() {
    let server = TestServer::start_configured(Backend::Sqlite, |c| c.login_rate_limit = 0).await;
    server.user("ann", PASSWORD).await;
    server.user("bea", PASSWORD).await;
    let attacker = Browser::new();
    for _ in 0..5 {
        let page = try_login(&server, &attacker, "ann", "wrong password!").await;
        assert!(page.html.contains("Invalid username or password."));
    }
    // The sixth attempt waits, even with the right password and from another address.
    let owner = Browser::from(Ipv4Addr::new(127, 0, 0, 3));
    let waited = try_login(&server, &owner, "ANN", PASSWORD).await;
    assert_eq!(waited.status, 429, "the account name is matched ignoring case");
    let retry: u64 = waited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry <= 2, "one second after five failures: {retry}");
    assert_eq!(
        try_login(&server, &owner, "bea", PASSWORD).await.status,
        303,
        "per account"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        try_login(&server, &owner, "ann", PASSWORD).await.status,
        303,
        "the owner gets in"
    );
    // Success forgets the failures.
    assert!(
        try_login(&server, &attacker, "ann", "wrong password!")
            .await
            .html
            .contains("Invalid username")
    );
}
