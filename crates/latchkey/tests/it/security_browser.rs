//! Attacks through the person's browser. Cross-site request forgery (RFC 6749 §10.12,
//! RFC 9700 §4.7) against every form Latchkey serves (login, consent, the device code
//! and its confirmation, the account page's revoke, password, sign-out and
//! sign-out-everywhere forms, and the passkey forms): a post from the victim's own browser, with the victim's
//! cookies, but without the form's `csrf_token`, with a made-up one, with the attacker's
//! own valid one or with the raw CSRF cookie, is a 403 page and changes nothing. And
//! session fixation (OWASP Session Management Cheat Sheet, "renew the session ID after
//! login"): a session id planted before login is ended, never adopted, and a forged
//! session cookie is no session at all.

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

use crate::support::{Browser, Page, Registered, TestServer, assert_oauth_error, backend_test};

const PASSWORD: &str = "correct horse battery staple";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The ways a forged post gets its `csrf_token` wrong.
struct Forgeries {
    /// A token valid for the attacker's own browser (its own CSRF cookie).
    attackers: String,
    /// The victim's CSRF cookie value itself (what a naive double-submit check accepts).
    victims_cookie: String,
}

impl Forgeries {
    /// The attacker's token comes from their own visit to the login page.
    async fn new(server: &TestServer, victims_cookie: String) -> Self {
        let attacker = Browser::new().get(&server.url("/login")).await;
        Self {
            attackers: attacker.inputs()["csrf_token"].clone(),
            victims_cookie,
        }
    }

    /// `None` (no field), a made-up value, the attacker's token, the victim's cookie.
    fn tokens(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("no csrf_token", None),
            (
                "a made-up csrf_token",
                Some("0123456789abcdef0123456789abcdef".to_owned()),
            ),
            ("the attacker's own csrf_token", Some(self.attackers.clone())),
            (
                "the victim's CSRF cookie as the token",
                Some(self.victims_cookie.clone()),
            ),
        ]
    }
}

/// The value a `Set-Cookie` on `page` gives cookie `name`, if any.
fn set_cookie(page: &Page, name: &str) -> Option<String> {
    page.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

/// Posts `fields` plus `csrf` (if any) from `browser`, and asserts the CSRF refusal.
async fn assert_forgery_refused(
    server: &TestServer,
    browser: &Browser,
    action: &str,
    fields: &[(&str, &str)],
    what: &str,
    csrf: Option<&str>,
) {
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(token) = csrf {
        form.push(("csrf_token".into(), token.to_owned()));
    }
    let page = browser.post(&server.url(action), &form).await;
    assert_eq!(page.status, 403, "{action} with {what}: {}", page.html);
    assert!(page.location().is_none(), "{action} with {what}: no redirect");
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page"
    );
    assert!(
        set_cookie(&page, "latchkey_session").is_none(),
        "{action} with {what}: no session change"
    );
}

/// A browser signed in as `username`, and the CSRF cookie it was given.
async fn signed_in(server: &TestServer, username: &str) -> (Browser, String) {
    let browser = Browser::new();
    let login = browser.get(&server.url("/login")).await;
    let cookie = set_cookie(&login, "latchkey_csrf").unwrap();
    let done = browser
        .submit(
            &server.base,
            &login,
            "/login",
            &[("username", username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    (browser, cookie)
}

async fn account_html(server: &TestServer, browser: &Browser) -> String {
    browser.get(&server.url("/account")).await.html
}

backend_test! {
    // RFC 6749 §10.12, RFC 9700 §4.7: login CSRF (signing the victim in as the attacker) is refused.
    async fn a_forged_login_post_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("mallory", PASSWORD).await;
        let victim = Browser::new();
        let login = victim.get(&server.url("/login")).await;
        let forgeries = Forgeries::new(&server, set_cookie(&login, "latchkey_csrf").unwrap()).await;
        let fields = [("username", "mallory"), ("password", PASSWORD), ("return_to", "/")];
        for (what, token) in forgeries.tokens() {
            assert_forgery_refused(&server, &victim, "/login", &fields, what, token.as_deref()).await;
            assert!(account_html(&server, &victim).await.contains("not signed in"), "{what}");
        }
        // A browser that never saw the login page has no CSRF cookie: refused too.
        let cold = Browser::new();
        assert_forgery_refused(&server, &cold, "/login", &fields, "no CSRF cookie", Some(&forgeries.attackers)).await;
        assert!(account_html(&server, &cold).await.contains("not signed in"));
        // Control: the real form works.
        let done = victim
            .submit(&server.base, &login, "/login", &[("username", "mallory"), ("password", PASSWORD)])
            .await;
        assert_eq!(done.status, 303);
    }
}

backend_test! {
    // RFC 6749 §10.12, RFC 9700 §4.7: a forged consent (decision=allow) is refused and records no consent.
    async fn a_forged_consent_post_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("vic", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let (victim, cookie) = signed_in(&server, "vic").await;
        let forgeries = Forgeries::new(&server, cookie).await;
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={}&state=s", client.id));
        let consent = victim.get(&url).await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        let mut fields: Vec<(String, String)> = consent.inputs().into_iter().filter(|(k, _)| k != "csrf_token").collect();
        fields.push(("decision".into(), "allow".into()));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (what, token) in forgeries.tokens() {
            assert_forgery_refused(&server, &victim, "/oauth2/authorize", &fields, what, token.as_deref()).await;
        }
        // Nothing was granted: the account lists no application and consent is still asked.
        assert!(account_html(&server, &victim).await.contains("None yet."));
        let again = victim.get(&url).await;
        assert_eq!(again.status, 200);
        assert!(again.html.contains(r#"value="allow""#), "consent is asked again");
        // Control: the real form works.
        let allowed = victim.submit(&server.base, &again, "/oauth2/authorize", &[("decision", "allow")]).await;
        assert_eq!(allowed.status, 303);
        assert!(allowed.location().unwrap().contains("code="));
    }
}

async fn tv_client(server: &TestServer) -> Registered {
    server
        .register(|r| {
            r.name = "Living Room TV".into();
            r.public = true;
            r.grant_types = vec![DEVICE_GRANT.into()];
            r.scopes = vec!["notes:read".into()];
        })
        .await
}

async fn poll(server: &TestServer, client: &Registered, device_code: &str) -> reqwest::Response {
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

backend_test! {
    // RFC 6749 §10.12, RFC 9700 §4.7, RFC 8628 §5.4: forged posts of the device code and its confirmation are refused.
    async fn forged_device_code_and_confirmation_posts_are_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("tess", PASSWORD).await;
        let tv = tv_client(&server).await;
        let started: Value = server
            .post_form("/oauth2/device_authorization", None, &[("client_id", &tv.id), ("scope", "notes:read")])
            .await
            .json()
            .await
            .unwrap();
        let device_code = started["device_code"].as_str().unwrap();
        let user_code = started["user_code"].as_str().unwrap();
        let (victim, cookie) = signed_in(&server, "tess").await;
        let forgeries = Forgeries::new(&server, cookie).await;

        let entry = victim.get(&server.url("/device")).await;
        for (what, token) in forgeries.tokens() {
            assert_forgery_refused(&server, &victim, "/device", &[("user_code", user_code)], what, token.as_deref()).await;
        }
        let confirm = victim.submit(&server.base, &entry, "/device", &[("user_code", user_code)]).await;
        assert_eq!(confirm.status, 200, "{}", confirm.html);
        assert!(confirm.html.contains("Living Room TV"));
        for (what, token) in forgeries.tokens() {
            let fields = [("user_code", user_code), ("decision", "allow")];
            assert_forgery_refused(&server, &victim, "/device/confirm", &fields, what, token.as_deref()).await;
        }
        assert_oauth_error(poll(&server, &tv, device_code).await, 400, "authorization_pending").await;
        // Control: the real confirmation works.
        let done = victim.submit(&server.base, &confirm, "/device/confirm", &[("decision", "allow")]).await;
        assert!(done.html.contains("Device connected"), "{}", done.html);
        server.clock.advance(std::time::Duration::from_secs(6));
        assert_eq!(poll(&server, &tv, device_code).await.status(), 200);
    }
}

backend_test! {
    // RFC 6749 §10.12, RFC 9700 §4.7: forged account forms (revoke, password, sign out, sign out everywhere) change nothing.
    async fn forged_account_form_posts_are_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("uma", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let (victim, cookie) = signed_in(&server, "uma").await;
        let forgeries = Forgeries::new(&server, cookie).await;
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={}", client.id));
        let code = victim.approve(&server, &url, ("uma", PASSWORD)).await["code"].clone();
        let tokens: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await
            .json()
            .await
            .unwrap();
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        let hijacked = "the attacker's password";
        let forms: [(&str, Vec<(&str, &str)>); 5] = [
            ("/grants/revoke", vec![("client_id", client.id.as_str()), ("revoke", "confirm")]),
            ("/grants/revoke", vec![("client_id", client.id.as_str()), ("revoke", "ask")]),
            (
                "/account/password",
                vec![
                    ("current_password", PASSWORD),
                    ("new_password", hijacked),
                    ("new_password_again", hijacked),
                    ("change_password", "1"),
                ],
            ),
            ("/account/sessions/end", vec![("sign_out_everywhere", "1")]),
            ("/logout", vec![]),
        ];
        for (action, fields) in &forms {
            for (what, token) in forgeries.tokens() {
                assert_forgery_refused(&server, &victim, action, fields, what, token.as_deref()).await;
            }
        }
        // Nothing changed: still signed in, the grant and its tokens live, the password is the old one.
        let account = account_html(&server, &victim).await;
        assert!(account.contains("Signed in as uma"), "{account}");
        assert!(account.contains("Notes Web"), "the grant is still listed");
        assert_eq!(server.introspect(&client, refresh_token).await["active"], true);
        let elsewhere = Browser::new();
        let login = elsewhere.get(&server.url("/login")).await;
        let old = elsewhere
            .submit(&server.base, &login, "/login", &[("username", "uma"), ("password", PASSWORD)])
            .await;
        assert_eq!(old.status, 303, "the old password still works");

        // Controls: the same forms with the real token do what they say.
        let page = victim.get(&server.url("/account")).await;
        let real = |fields: &[(&str, &str)]| {
            let mut all: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            all.push(("csrf_token".into(), page.inputs()["csrf_token"].clone()));
            all
        };
        let revoked = victim.post(&server.url("/grants/revoke"), &real(&forms[0].1)).await;
        assert_eq!(revoked.status, 303);
        assert_eq!(server.introspect(&client, refresh_token).await["active"], false);
        let changed = victim.post(&server.url("/account/password"), &real(&forms[2].1)).await;
        assert_eq!(changed.status, 200, "{}", changed.html);
        assert!(account_html(&server, &elsewhere).await.contains("not signed in"), "the other session ended");
        let out = victim.post(&server.url("/logout"), &real(&forms[4].1)).await;
        assert_eq!(out.status, 200);
        assert!(account_html(&server, &victim).await.contains("not signed in"));
    }
}

/// A request with exactly these cookies (no jar), as a `Page`.
async fn with_cookies(server: &TestServer, path: &str, cookies: &str, form: Option<&[(&str, &str)]>) -> Page {
    let mut request = match form {
        Some(form) => server.http.post(server.url(path)).form(form),
        None => server.http.get(server.url(path)),
    };
    if !cookies.is_empty() {
        request = request.header(COOKIE, cookies);
    }
    let response = request.send().await.unwrap();
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

/// What a cookie-less login as `username` gives: the session id, the CSRF cookie and the
/// CSRF token that goes with it.
struct RawLogin {
    session: String,
    csrf: String,
    token: String,
}

/// Signs `username` in with hand-kept cookies: `planted` (if any) is sent as the session
/// cookie before and during login, as if an attacker had set it. Returns the login
/// response and what it gave.
async fn raw_login(server: &TestServer, planted: Option<&str>, username: &str) -> (Page, RawLogin) {
    let session = planted
        .map(|p| format!("latchkey_session={p}; "))
        .unwrap_or_default();
    let login = with_cookies(server, "/login", session.trim_end_matches("; "), None).await;
    let csrf = set_cookie(&login, "latchkey_csrf").unwrap();
    let token = login.inputs()["csrf_token"].clone();
    let form = [
        ("csrf_token", token.as_str()),
        ("username", username),
        ("password", PASSWORD),
    ];
    let done = with_cookies(
        server,
        "/login",
        &format!("{session}latchkey_csrf={csrf}"),
        Some(&form),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let session = set_cookie(&done, "latchkey_session").expect("login sets a session cookie");
    (done, RawLogin { session, csrf, token })
}

async fn account_with_session(server: &TestServer, session: &str) -> Page {
    with_cookies(server, "/account", &format!("latchkey_session={session}"), None).await
}

fn is_signed_in_as(page: &Page, username: &str) -> bool {
    page.html.contains(&format!("Signed in as {username}"))
}

backend_test! {
    // OWASP session fixation: login issues a fresh session id and ends a planted one.
    async fn login_replaces_a_planted_session_id(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("mallory", PASSWORD).await;
        server.user("vera", PASSWORD).await;

        // The attacker's own live session, planted in the victim's browser.
        let (_, attacker) = raw_login(&server, None, "mallory").await;
        let planted = attacker.session;
        assert!(is_signed_in_as(&account_with_session(&server, &planted).await, "mallory"));
        let (_, victim) = raw_login(&server, Some(&planted), "vera").await;
        assert_ne!(victim.session, planted, "a new session id");
        assert!(victim.session.len() >= 22, "at least 128 bits: {}", victim.session);
        assert!(is_signed_in_as(&account_with_session(&server, &victim.session).await, "vera"));
        let old = account_with_session(&server, &planted).await;
        assert!(old.html.contains("not signed in"), "the planted session ended: {}", old.html);

        // A made-up id planted before login is not adopted either.
        let made_up = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let (_, victim) = raw_login(&server, Some(made_up), "vera").await;
        assert_ne!(victim.session, made_up);
        assert!(account_with_session(&server, made_up).await.html.contains("not signed in"));
        assert!(is_signed_in_as(&account_with_session(&server, &victim.session).await, "vera"));
    }
}

backend_test! {
    // OWASP session management, RFC 6749 §10.12: a forged or stale session cookie is no session.
    async fn a_forged_session_cookie_gives_no_session(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("wes", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let (bystander, _) = signed_in(&server, "wes").await;
        let (_, real) = raw_login(&server, None, "wes").await;
        // A session that was signed out through the form.
        let (_, ended) = raw_login(&server, None, "wes").await;
        let out = with_cookies(
            &server,
            "/logout",
            &format!("latchkey_session={}; latchkey_csrf={}", ended.session, ended.csrf),
            Some(&[("csrf_token", ended.token.as_str())]),
        )
        .await;
        assert_eq!(out.status, 200);

        let mut tampered = real.session.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let forged = [
            ("a random id", "q9wH3v0x5yZcVnKqJ1mT4rLs8uE2bA7dFgHiJkLmNoP".to_owned()),
            ("a tampered id", tampered),
            ("a signed-out id", ended.session.clone()),
            ("the CSRF cookie", real.csrf.clone()),
            ("the CSRF token", real.token.clone()),
            ("the user's sub", sub.clone()),
            ("an empty value", String::new()),
            ("an overlong value", "A".repeat(129)),
            ("SQL", "' OR '1'='1".to_owned()),
        ];
        let authorize = format!("/oauth2/authorize?response_type=code&client_id={}&prompt=none&state=s", client.id);
        for (what, value) in &forged {
            let cookies = format!("latchkey_session={value}; latchkey_csrf={}", real.csrf);
            let account = with_cookies(&server, "/account", &cookies, None).await;
            assert_eq!(account.status, 200, "{what}");
            assert!(account.html.contains("not signed in"), "{what}");
            let authorized = with_cookies(&server, &authorize, &cookies, None).await;
            assert_eq!(authorized.status, 303, "{what}");
            assert!(authorized.location().unwrap().contains("error=login_required"), "{what}");
            // With a valid CSRF token, a forged session still cannot end anyone's sessions.
            let end = with_cookies(&server, "/account/sessions/end", &cookies, Some(&[("csrf_token", real.token.as_str())])).await;
            assert_eq!(end.status, 303, "{what}: sent to log in");
            assert!(end.location().unwrap().starts_with("/login"), "{what}");
        }
        assert!(is_signed_in_as(&account_with_session(&server, &real.session).await, "wes"), "the real session is untouched");
        assert!(account_html(&server, &bystander).await.contains("Signed in as wes"));
    }
}

backend_test! {
    // RFC 6749 §10.12, RFC 9700 §4.7: forged passkey posts (open the add page, add the
    // attacker's authenticator, remove one, sign in or step up with one) change nothing.
    async fn forged_passkey_posts_are_refused(backend) {
        use latchkey_core::secret::b64;
        use latchkey_core::webauthn::RelyingParty;
        use latchkey_core::webauthn::soft::{Authenticator, KeyKind};

        let server = TestServer::start_on(backend.clone()).await;
        let vic = latchkey_core::id::UserId::new(server.user("vic", PASSWORD).await);
        server.user("mal", PASSWORD).await;
        let rp = RelyingParty::for_issuer(&server.issuer).unwrap();
        let (victim, cookie) = signed_in(&server, "vic").await;
        let forgeries = Forgeries::new(&server, cookie).await;
        let mut key = Authenticator::new(KeyKind::Es256, &rp);
        let added = crate::passkeys::add_passkey(&server, &victim, &mut key, "Vic's phone").await;
        assert_eq!(added.status, 200, "{}", added.html);

        // The attacker's own authenticator, answering a challenge of the attacker's own.
        let (mallory, _) = signed_in(&server, "mal").await;
        let account = mallory.get(&server.url("/account")).await;
        let page = mallory.submit(&server.base, &account, "/account/passkeys/new", &[]).await;
        let mut theirs = Authenticator::new(KeyKind::Es256, &rp);
        let (client_data, attestation) = theirs.create(&crate::passkeys::challenge(&page), &rp.origin);
        let (client_data, attestation) = (b64(&client_data), b64(&attestation));
        let mallory_login = Browser::new().get(&server.url("/login")).await;
        let sign_in = theirs.get(&crate::passkeys::challenge(&mallory_login), &rp.origin, &[]);
        let sign_in_fields = crate::passkeys::assertion_fields(&sign_in);
        let sign_in_fields: Vec<(&str, &str)> = sign_in_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let ours = b64(&key.credential_id);
        let forms: [(&str, Vec<(&str, &str)>); 5] = [
            ("/account/passkeys/new", vec![("add_passkey", "1")]),
            (
                "/account/passkeys/add",
                vec![("client_data_json", client_data.as_str()), ("attestation_object", attestation.as_str())],
            ),
            ("/account/passkeys/remove", vec![("credential_id", ours.as_str())]),
            ("/login/passkey", sign_in_fields.clone()),
            ("/login/mfa/passkey", sign_in_fields.clone()),
        ];
        for (action, fields) in &forms {
            for (what, token) in forgeries.tokens() {
                assert_forgery_refused(&server, &victim, action, fields, what, token.as_deref()).await;
            }
        }
        // Nothing changed: the victim is still themself, with their one passkey.
        let account = account_html(&server, &victim).await;
        assert!(account.contains("Signed in as vic"), "{account}");
        let keys = server.store().list_passkeys(&vic).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].credential_id, key.credential_id);
    }
}
