//! Login, sessions and userinfo as a browser and an API client meet them.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::support::{Browser, TestServer, assert_oauth_error, backend_test};

const PASSWORD: &str = "correct horse battery staple";

async fn login_page(server: &TestServer, browser: &Browser) -> crate::support::Page {
    let page = browser.get(&server.url("/login")).await;
    assert_eq!(page.status, 200);
    page
}

backend_test! {
    async fn the_login_page_has_the_contract_fields_and_safe_headers(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let browser = Browser::new();
        let page = login_page(&server, &browser).await;
        assert!(page.html.contains(r#"name="username""#));
        assert!(page.html.contains(r#"name="password""#));
        assert!(page.html.contains(r#"button type="submit""#));
        assert!(page.inputs().contains_key("csrf_token"));
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["referrer-policy"], "no-referrer");
        assert_eq!(page.headers["cache-control"], "no-store");
        let cookie = page.headers["set-cookie"].to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
}

backend_test! {
    async fn failed_logins_say_only_invalid_username_or_password(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("lena", PASSWORD).await;
        let browser = Browser::new();
        let page = login_page(&server, &browser).await;
        for (username, password) in [("lena", "wrong password"), ("nobody", PASSWORD), ("", "")] {
            let failed = browser
                .submit(
                    &server.base,
                    &page,
                    "/login",
                    &[("username", username), ("password", password)],
                )
                .await;
            assert_eq!(failed.status, 200);
            assert!(
                failed.html.contains("Invalid username or password."),
                "{username}"
            );
            assert!(
                failed
                    .headers
                    .get("set-cookie")
                    .is_none_or(|c| !c.to_str().unwrap().contains("latchkey_session"))
            );
        }
        let ok = browser
            .submit(
                &server.base,
                &page,
                "/login",
                &[("username", "LENA"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(ok.status, 303, "usernames ignore case");
    }
}

backend_test! {
    async fn every_login_issues_a_fresh_session_and_logout_ends_it(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("mona", PASSWORD).await;
        let browser = Browser::new();
        let session_cookie = |page: &crate::support::Page| {
            page.headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .find(|c| c.starts_with("latchkey_session="))
                .unwrap()
        };
        let page = login_page(&server, &browser).await;
        let first = browser
            .submit(
                &server.base,
                &page,
                "/login",
                &[("username", "mona"), ("password", PASSWORD)],
            )
            .await;
        let first_cookie = session_cookie(&first);
        assert!(
            first_cookie.contains("HttpOnly")
                && first_cookie.contains("SameSite=Lax")
                && first_cookie.contains("Max-Age=")
        );
        assert!(!first_cookie.contains("Secure"), "http issuer");
        let page = login_page(&server, &browser).await;
        let second = browser
            .submit(
                &server.base,
                &page,
                "/login",
                &[("username", "mona"), ("password", PASSWORD)],
            )
            .await;
        assert_ne!(session_cookie(&second), first_cookie, "no session fixation");

        let home = browser.get(&server.url("/")).await;
        assert!(home.html.contains("Signed in as mona"));
        let out = browser.submit(&server.base, &home, "/logout", &[]).await;
        assert_eq!(out.status, 200);
        let home = browser.get(&server.url("/")).await;
        assert!(home.html.contains("not signed in"));
    }
}

backend_test! {
    async fn login_never_redirects_off_site(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("nina", PASSWORD).await;
        let browser = Browser::new();
        for target in [
            "https://evil.example.com/",
            "//evil.example.com/",
            "/\\evil.example.com",
        ] {
            let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
            let page = browser
                .get(&server.url(&format!("/login?return_to={encoded}")))
                .await;
            let done = browser
                .submit(
                    &server.base,
                    &page,
                    "/login",
                    &[("username", "nina"), ("password", PASSWORD)],
                )
                .await;
            assert_eq!(done.location().as_deref(), Some("/"), "{target}");
        }
    }
}

backend_test! {
    async fn userinfo_needs_a_bearer_token_with_openid_in_the_header(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let service = server.service_client(&["notes:read"]).await;
        let token = server.token(&service, Some("notes:read")).await;
        let url = server.url("/oauth2/userinfo");

        let none = server.http.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401);
        assert!(
            none.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );

        let bad = server.http.get(&url).bearer_auth("garbage").send().await.unwrap();
        assert_eq!(bad.status(), 401);
        assert!(
            bad.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );

        let no_openid = server.http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(no_openid.status(), 403);
        assert!(
            no_openid.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("insufficient_scope")
        );

        let in_query = server
            .http
            .get(format!("{url}?access_token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(in_query.status(), 400, "tokens in URLs are refused");
        let body: serde_json::Value = in_query.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");

        let basic = server
            .http
            .post(&url)
            .basic_auth("a", Some("b"))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 401);
        let response = server
            .post_form("/oauth2/introspect", None, &[("token", &token)])
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

#[test]
fn the_user_commands_create_list_reset_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("LATCHKEY_MASTER_KEY")
            .env_remove("LATCHKEY_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let created = run(
        &[
            "user",
            "create",
            "--username",
            "Olga",
            "--password-stdin",
            "--email",
            "olga@example.com",
            "--json",
        ],
        Some("a long password\n"),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(json["username"], "Olga");
    assert_eq!(json["sub"].as_str().unwrap().len(), 32);

    let duplicate = run(
        &["user", "create", "--username", "olga", "--password-stdin"],
        Some("another password\n"),
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("taken"));
    let short = run(
        &["user", "create", "--username", "pat", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!short.status.success());

    let listed = run(&["user", "list"], None);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("Olga") && !text.contains("a long password") && !text.contains("argon2"));

    assert!(
        run(
            &["user", "set-password", "olga", "--password-stdin"],
            Some("a new long password")
        )
        .status
        .success()
    );
    assert!(run(&["user", "delete", "OLGA"], None).status.success());
    assert!(!run(&["user", "delete", "olga"], None).status.success());
}
