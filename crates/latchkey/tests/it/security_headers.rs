//! Clickjacking and leakage headers (RFC 9700 §4.16, RFC 6819 §4.4.1.9) on every HTML
//! page Latchkey serves, in every state: anti-framing (`frame-ancestors 'none'` and
//! `X-Frame-Options: DENY`), no MIME sniffing, no referrer, and no caching of pages that
//! carry a session or a form.

use crate::support::{Browser, Page, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";

fn assert_protected(page: &Page, what: &str) {
    let header = |name: &str| {
        page.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}: CSP"
    );
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    if header("content-type").starts_with("text/html") {
        assert!(
            header("cache-control").contains("no-store"),
            "{what}: pages are not cached"
        );
    }
}

backend_test! {
    async fn every_page_refuses_to_be_framed(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let authorize = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
            client.id
        ));
        assert_protected(&browser.get(&server.url("/login")).await, "login");
        assert_protected(&browser.get(&server.url("/account")).await, "account, signed out");
        assert_protected(&browser.get(&server.url("/device")).await, "device entry");
        assert_protected(&browser.get(&server.url("/oauth2/authorize?client_id=x")).await, "error page");
        assert_protected(&browser.get(&server.url("/nothing-here")).await, "404");
        let consent = browser.authorize(&server, &authorize, ("tess", PASSWORD)).await;
        assert!(consent.html.contains(r#"value="allow""#));
        assert_protected(&consent, "consent");
        let account = browser.get(&server.url("/account")).await;
        assert!(account.html.contains("Signed in as tess"));
        assert_protected(&account, "account");
        let confirm = browser
            .submit(&server.base, &account, "/grants/revoke", &[("client_id", client.id.as_str()), ("revoke", "ask")])
            .await;
        assert_protected(&confirm, "revoke confirmation");
        // The two-step pages: enrolment (with its QR code), the recovery codes, and the
        // sign-in code page.
        let setup = browser
            .submit(&server.base, &account, "/account/mfa/setup", &[("setup_mfa", "1")])
            .await;
        assert!(setup.html.contains("<svg"));
        assert_protected(&setup, "two-step enrolment");
        let key = setup.html.split(r#"<code id="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap();
        let secret = latchkey_core::mfa::TotpSecret::from_bytes(crate::support::base32_decode(key));
        let step = latchkey_core::Clock::now(server.clock.as_ref()).as_secs() / latchkey_core::mfa::STEP_SECS;
        let codes = browser
            .submit(&server.base, &setup, "/account/mfa/confirm", &[("code", &format!("{:06}", secret.code_at_step(step)))])
            .await;
        assert!(codes.html.contains("recovery codes"), "{}", codes.html);
        assert_protected(&codes, "recovery codes");
        let second = Browser::new();
        let form = second.get(&server.url("/login")).await;
        let after = second
            .submit(&server.base, &form, "/login", &[("username", "tess"), ("password", PASSWORD)])
            .await;
        let code_page = second.get(&server.url(&after.location().unwrap())).await;
        assert!(code_page.html.contains(r#"name="code""#));
        assert_protected(&code_page, "two-step code page");
        let forged = Browser::new().post(&server.url("/logout"), &[]).await;
        assert_eq!(forged.status, 403);
        assert_protected(&forged, "CSRF failure page");
        let discovery = server
            .http
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(discovery.headers()["x-frame-options"], "DENY", "JSON too");
    }
}
