//! The device authorization grant (RFC 8628) over HTTP: the `oauth2` crate as the device,
//! a cookie-keeping browser on the verification page.

use std::net::Ipv4Addr;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse as _, TokenUrl,
};
use serde_json::Value;

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub(crate) async fn tv_client(server: &TestServer) -> Registered {
    server
        .register(|r| {
            r.name = "Living Room TV".into();
            r.public = true;
            r.grant_types = vec![DEVICE_GRANT.into(), "refresh_token".into()];
            r.scopes = vec!["openid".into(), "notes:read".into()];
        })
        .await
}

pub(crate) async fn start(server: &TestServer, client: &Registered) -> Value {
    let response = server
        .post_form(
            "/oauth2/device_authorization",
            None,
            &[("client_id", &client.id), ("scope", "openid notes:read")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

pub(crate) async fn poll(server: &TestServer, client: &Registered, device_code: &str) -> reqwest::Response {
    server
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", &client.id),
            ],
        )
        .await
}

/// The person's side: open the URL, submit the code, log in, confirm with `decision`.
pub(crate) async fn approve(
    server: &TestServer,
    browser: &Browser,
    url: &str,
    decision: &str,
) -> crate::support::Page {
    let entry = browser.get(url).await;
    assert_eq!(entry.status, 200);
    let mut page = browser.submit(&server.base, &entry, "/device", &[]).await;
    if let Some(login) = page.location().filter(|l| l.starts_with("/login")) {
        let form = browser.get(&server.url(&login)).await;
        assert!(
            form.html
                .contains("to continue to <strong>Living Room TV</strong>"),
            "the login page names the client"
        );
        let back = browser
            .submit(
                &server.base,
                &form,
                "/login",
                &[("username", "tess"), ("password", PASSWORD)],
            )
            .await;
        let entry = browser.get(&server.url(&back.location().unwrap())).await;
        page = browser.submit(&server.base, &entry, "/device", &[]).await;
    }
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("Living Room TV"),
        "the confirmation names the client"
    );
    assert!(
        page.html
            .contains("only continue if this code is the one shown on your device")
    );
    browser
        .submit(&server.base, &page, "/device/confirm", &[("decision", decision)])
        .await
}

backend_test! {
    async fn a_tv_gets_tokens_through_the_oauth2_crate_after_the_user_approves(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let registered = tv_client(&server).await;
        let client = BasicClient::new(ClientId::new(registered.id.clone()))
            .set_auth_uri(AuthUrl::new(server.url("/oauth2/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).unwrap())
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(server.url("/oauth2/device_authorization")).unwrap(),
            );
        let details: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("notes:read".into()))
            .request_async(&server.http)
            .await
            .unwrap();
        let code = &details.user_code().secret().clone();
        assert_eq!(code.len(), 9);
        assert!(code.chars().enumerate().all(|(i, c)| if i == 4 {
            c == '-'
        } else {
            "BCDFGHJKLMNPQRSTVWXZ".contains(c)
        }));
        assert_eq!(details.verification_uri().as_str(), server.url("/device"));
        assert_eq!(details.expires_in(), Duration::from_secs(600));
        assert_eq!(details.interval(), Duration::from_secs(5));
        let complete = details.verification_uri_complete().unwrap().secret().clone();
        assert!(complete.ends_with(&format!("?user_code={code}")));

        // The device polls (its sleeps move the server's clock), while the person approves.
        let clock = server.clock.clone();
        let http = server.http.clone();
        let polling = tokio::spawn(async move {
            client
                .exchange_device_access_token(&details)
                .request_async(
                    &http,
                    |wait| {
                        let clock = clock.clone();
                        async move {
                            clock.advance(wait);
                            tokio::time::sleep(Duration::from_millis(30)).await;
                        }
                    },
                    None,
                )
                .await
        });
        let browser = Browser::new();
        let entry = browser.get(&complete).await;
        assert_eq!(
            entry.inputs()["user_code"],
            *code,
            "verification_uri_complete fills the code in"
        );
        let done = approve(&server, &browser, &complete, "allow").await;
        assert!(done.html.contains("Device connected"));

        let tokens = polling.await.unwrap().unwrap();
        assert!(tokens.refresh_token().is_some());
        let introspected = server
            .introspect(&server.service_client(&[]).await, tokens.access_token().secret())
            .await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["client_id"], registered.id);
        assert_eq!(introspected["scope"], "notes:read openid");
    }
}

backend_test! {
    async fn polling_is_pending_then_slow_down_grows_the_interval_by_five_seconds(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let client = tv_client(&server).await;
        let started = start(&server, &client).await;
        let device_code = started["device_code"].as_str().unwrap();

        assert_oauth_error(
            poll(&server, &client, device_code).await,
            400,
            "authorization_pending",
        )
        .await;
        server.clock.advance(Duration::from_secs(2));
        assert_oauth_error(poll(&server, &client, device_code).await, 400, "slow_down").await;
        server.clock.advance(Duration::from_secs(9));
        assert_oauth_error(poll(&server, &client, device_code).await, 400, "slow_down").await;
        server.clock.advance(Duration::from_secs(15));
        assert_oauth_error(
            poll(&server, &client, device_code).await,
            400,
            "authorization_pending",
        )
        .await;
        server.clock.advance(Duration::from_secs(14));
        assert_oauth_error(poll(&server, &client, device_code).await, 400, "slow_down").await;

        let done = approve(
            &server,
            &Browser::new(),
            started["verification_uri_complete"].as_str().unwrap(),
            "allow",
        )
        .await;
        assert_eq!(done.status, 200);
        let tokens = poll(&server, &client, device_code).await;
        assert_eq!(tokens.status(), 200);
        let body: Value = tokens.json().await.unwrap();
        assert!(body["id_token"].is_string(), "openid was granted");
        assert_oauth_error(poll(&server, &client, device_code).await, 400, "invalid_grant").await;
    }
}

backend_test! {
    async fn deny_expiry_and_the_wrong_client_get_their_errors(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let client = tv_client(&server).await;
        let other = tv_client(&server).await;

        let denied = start(&server, &client).await;
        let page = approve(
            &server,
            &Browser::new(),
            denied["verification_uri_complete"].as_str().unwrap(),
            "deny",
        )
        .await;
        assert!(page.html.contains("Request denied"));
        assert_oauth_error(
            poll(&server, &client, denied["device_code"].as_str().unwrap()).await,
            400,
            "access_denied",
        )
        .await;

        let stolen = start(&server, &client).await;
        let response = poll(&server, &other, stolen["device_code"].as_str().unwrap()).await;
        assert_oauth_error(response, 400, "invalid_grant").await;

        let expiring = start(&server, &client).await;
        server.clock.advance(Duration::from_secs(600));
        let response = poll(&server, &client, expiring["device_code"].as_str().unwrap()).await;
        assert_oauth_error(response, 400, "expired_token").await;
        let browser = Browser::new();
        let entry = browser
            .get(expiring["verification_uri_complete"].as_str().unwrap())
            .await;
        let page = browser.submit(&server.base, &entry, "/device", &[]).await;
        assert_eq!(page.status, 400);
        assert!(page.html.contains("expired"));

        assert_oauth_error(poll(&server, &client, "no-such-code").await, 400, "invalid_grant").await;
        let web = server.web_client(&["openid"]).await;
        let refused = server
            .post_form("/oauth2/device_authorization", Some(&web), &[])
            .await;
        assert_oauth_error(refused, 400, "unauthorized_client").await;
        let anonymous = server.post_form("/oauth2/device_authorization", None, &[]).await;
        assert_oauth_error(anonymous, 401, "invalid_client").await;
    }
}

backend_test! {
    async fn a_used_code_says_so_on_the_page(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let client = tv_client(&server).await;
        let started = start(&server, &client).await;
        let url = started["verification_uri_complete"].as_str().unwrap();
        let browser = Browser::new();
        approve(&server, &browser, url, "allow").await;
        let entry = browser.get(url).await;
        let page = browser.submit(&server.base, &entry, "/device", &[]).await;
        assert_eq!(page.status, 400);
        assert!(page.html.contains("already been used"));
    }
}

backend_test! {
    async fn wrong_codes_are_rate_limited_but_others_can_still_connect(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let client = tv_client(&server).await;
        let started = start(&server, &client).await;

        let guesser = Browser::from(Ipv4Addr::new(127, 0, 0, 3));
        let entry = guesser.get(&server.url("/device")).await;
        for _ in 0..10 {
            let page = guesser
                .submit(&server.base, &entry, "/device", &[("user_code", "BCDF-GHJK")])
                .await;
            assert_eq!(page.status, 400);
            assert!(page.html.contains("not valid"));
        }
        let limited = guesser
            .submit(
                &server.base,
                &entry,
                "/device",
                &[("user_code", started["user_code"].as_str().unwrap())],
            )
            .await;
        assert_eq!(
            limited.status, 429,
            "even a right code waits once the limit bites"
        );
        assert!(limited.html.contains("Too many wrong codes"));

        // Someone else, from another address and browser, is under the limit.
        let owner = Browser::from(Ipv4Addr::new(127, 0, 0, 4));
        let done = approve(
            &server,
            &owner,
            started["verification_uri_complete"].as_str().unwrap(),
            "allow",
        )
        .await;
        assert!(done.html.contains("Device connected"));

        // The limit lifts after its window.
        server.clock.advance(Duration::from_secs(601));
        let page = guesser
            .submit(&server.base, &entry, "/device", &[("user_code", "BCDF-GHJK")])
            .await;
        assert_eq!(page.status, 400);
    }
}
