//! Token and credential leakage (RFC 9700 §4.3, RFC 6749 §10.3, §10.5, §10.8): no access
//! token, refresh token, code, password or secret travels in a URL (except the access token
//! in the implicit flow's fragment, RFC 6749 §4.2.2), the token endpoint and friends take
//! nothing from the query string, and nothing secret reaches the server's log, at any
//! level, through a whole day's worth of flows, failures included.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::{
    Browser, Page, Registered, TestServer, assert_oauth_error, backend_test, redirect_params,
};

const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const NEW_PASSWORD: &str = "a much newer passphrase";
const WRONG_PASSWORD: &str = "not the password at all";
const PASSWORD_AS_USERNAME: &str = "typed my password here by mistake";

/// The value a `Set-Cookie` on `page` gives cookie `name`, if any.
fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

/// A browser that records every `Location` it is sent to, and the session and CSRF cookies.
struct Tracked {
    browser: Browser,
    locations: Vec<String>,
    cookies: Vec<String>,
}

impl Tracked {
    fn new() -> Self {
        Self {
            browser: Browser::new(),
            locations: Vec::new(),
            cookies: Vec::new(),
        }
    }

    fn record(&mut self, page: &Page) {
        if let Some(location) = page.headers.get(LOCATION) {
            self.locations.push(location.to_str().unwrap().to_owned());
        }
        for name in ["latchkey_session", "latchkey_csrf"] {
            if let Some(value) = set_cookie(&page.headers, name).filter(|v| !v.is_empty()) {
                self.cookies.push(value);
            }
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let page = self.browser.get(url).await;
        self.record(&page);
        page
    }

    async fn submit(&mut self, base: &str, page: &Page, action: &str, extra: &[(&str, &str)]) -> Page {
        let next = self.browser.submit(base, page, action, extra).await;
        self.record(&next);
        next
    }

    /// Follows our own redirects from `url`, logging in as `user` when asked and allowing
    /// consent; returns the redirect to the client.
    async fn authorize(&mut self, server: &TestServer, url: &str, user: (&str, &str)) -> String {
        let mut page = self.get(url).await;
        for _ in 0..6 {
            let location = page.location();
            match location {
                Some(location) if location.starts_with('/') => {
                    let next = self.get(&server.url(&location)).await;
                    page = if location.starts_with("/login") {
                        self.submit(
                            &server.base,
                            &next,
                            "/login",
                            &[("username", user.0), ("password", user.1)],
                        )
                        .await
                    } else {
                        next
                    };
                }
                Some(location) => return location,
                None => {
                    assert_eq!(page.status, 200, "{}", page.html);
                    assert!(
                        page.html
                            .contains(r#"<form method="post" action="/oauth2/authorize">"#),
                        "consent posts"
                    );
                    page = self
                        .submit(&server.base, &page, "/oauth2/authorize", &[("decision", "allow")])
                        .await;
                }
            }
        }
        panic!("no redirect to the client");
    }
}

fn query_keys(location: &str) -> BTreeSet<String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

backend_test! {
    // RFC 9700 §4.3.1, RFC 6749 §4.1.2: the code flow's redirect holds only code, state and iss; no hop carries a secret.
    async fn the_code_flow_puts_no_token_or_credential_in_any_url(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("lena", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let mut browser = Tracked::new();
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid+notes:read&state=st&nonce=n\
             &code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id
        ));
        let login = browser.get(&server.url("/login")).await;
        assert!(login.html.contains(r#"<form method="post" action="/login" "#), "the password is posted, never sent in a URL");
        let redirect = browser.authorize(&server, &url, ("lena", PASSWORD)).await;
        let parsed = url::Url::parse(&redirect).unwrap();
        assert!(redirect.starts_with("https://app.example.com/cb?"), "{redirect}");
        assert_eq!(parsed.fragment(), None);
        assert_eq!(
            query_keys(&redirect),
            ["code", "iss", "state"].into_iter().map(str::to_owned).collect(),
            "{redirect}"
        );
        let code = redirect_params(&redirect)["code"].clone();
        let tokens: Value = server
            .post_form(
                "/oauth2/token",
                Some(&client),
                &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", VERIFIER)],
            )
            .await
            .json()
            .await
            .unwrap();
        let mut secrets = vec![PASSWORD.to_owned(), client.secret.clone(), VERIFIER.to_owned()];
        for name in ["access_token", "refresh_token", "id_token"] {
            secrets.push(tokens[name].as_str().unwrap().to_owned());
        }
        secrets.extend(browser.cookies.iter().cloned());
        assert!(browser.cookies.len() >= 2, "the session and CSRF cookies were seen");
        let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        for location in &browser.locations {
            for secret in &secrets {
                assert!(!location.contains(secret.as_str()) && !location.contains(&encoded(secret)), "{location}");
            }
            if location != &redirect {
                assert!(!location.contains(&code), "the code is only in the redirect to the client: {location}");
            }
        }
    }
}

backend_test! {
    // RFC 6749 §4.2.2 and §10.3, RFC 9700 §2.1.2: implicit puts the access token in the fragment only, never a refresh token.
    async fn the_implicit_flow_keeps_the_token_in_the_fragment(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("lena", PASSWORD).await;
        let spa = server
            .register(|r| {
                r.name = "Legacy SPA".into();
                r.public = true;
                // Registered for refresh tokens (through the code grant), yet none in a URL.
                r.grant_types = vec!["implicit".into(), "authorization_code".into(), "refresh_token".into()];
                r.redirect_uris = vec!["https://spa.example.com/".into()];
                r.scopes = vec!["openid".into(), "notes:read".into()];
            })
            .await;
        let mut browser = Tracked::new();
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=id_token+token&client_id={}&scope=openid+notes:read&state=st&nonce=n",
            spa.id
        ));
        let redirect = browser.authorize(&server, &url, ("lena", PASSWORD)).await;
        let parsed = url::Url::parse(&redirect).unwrap();
        assert_eq!(parsed.query(), None, "nothing in the query: {redirect}");
        let params = redirect_params(&redirect);
        let access = params["access_token"].clone();
        assert!(params.contains_key("id_token"));
        assert!(!params.contains_key("refresh_token"), "never a refresh token in a URL");
        assert!(!params.contains_key("code"));
        for location in &browser.locations {
            if location != &redirect {
                assert!(!location.contains(&access), "{location}");
            }
        }
    }
}

async fn refresh_token_for(server: &TestServer, client: &Registered) -> Value {
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}",
        client.id
    ));
    let code = Browser::new().approve(server, &url, ("lena", PASSWORD)).await["code"].clone();
    server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
        .json()
        .await
        .unwrap()
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

backend_test! {
    // RFC 6749 §3.2 and §10.8, RFC 6750 §2.3 and §5.3, RFC 9700 §4.3.2: no endpoint takes a credential or token from the URL.
    async fn tokens_and_credentials_in_the_query_string_are_never_used(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("lena", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let tokens = refresh_token_for(&server, &client).await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={}", client.id));
        let code = Browser::new().approve(&server, &url, ("lena", PASSWORD)).await["code"].clone();
        let credentials = [("client_id", client.id.as_str()), ("client_secret", client.secret.as_str())];

        // GET is not a token request (RFC 6749 §3.2: POST only).
        for grant in [
            vec![("grant_type", "client_credentials")],
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
            vec![("grant_type", "authorization_code"), ("code", code.as_str())],
        ] {
            let mut pairs = grant.clone();
            pairs.extend_from_slice(&credentials);
            let response = server.http.get(server.url(&format!("/oauth2/token?{}", query(&pairs)))).send().await.unwrap();
            assert_eq!(response.status(), 405);
            let body: Value = response.json().await.unwrap();
            assert!(body.get("access_token").is_none(), "{body}");
            let with_basic = server
                .http
                .get(server.url(&format!("/oauth2/token?{}", query(&grant))))
                .basic_auth(&client.id, Some(&client.secret))
                .send()
                .await
                .unwrap();
            assert_eq!(with_basic.status(), 405);
        }
        // POST with the parameters in the query: they are not read.
        let post_query = |path: &str, pairs: &[(&str, &str)], form: &[(&str, &str)], basic: bool| {
            let mut request = server.http.post(server.url(&format!("{path}?{}", query(pairs)))).form(form);
            if basic {
                request = request.basic_auth(&client.id, Some(&client.secret));
            }
            request.send()
        };
        let secret_in_query = post_query("/oauth2/token", &credentials, &[("grant_type", "client_credentials")], false).await.unwrap();
        assert_oauth_error(secret_in_query, 401, "invalid_client").await;
        for (pairs, form) in [
            (vec![("refresh_token", refresh_token)], vec![("grant_type", "refresh_token")]),
            (vec![("code", code.as_str())], vec![("grant_type", "authorization_code")]),
            (vec![("grant_type", "client_credentials")], vec![]),
        ] {
            let response = post_query("/oauth2/token", &pairs, &form, true).await.unwrap();
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            let response = post_query(path, &[("token", access)], &[], true).await.unwrap();
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        // Userinfo refuses the access token in the query (RFC 6750 §2.3 is not offered).
        let in_query = server
            .http
            .get(server.url(&format!("/oauth2/userinfo?{}", query(&[("access_token", access)]))))
            .send()
            .await
            .unwrap();
        assert_oauth_error(in_query, 400, "invalid_request").await;

        // Nothing was used up or revoked on the way.
        assert_eq!(server.introspect(&client, access).await["active"], true);
        let redeemed = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await;
        assert_eq!(redeemed.status(), 200, "the code was not spent");
        let refreshed = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await;
        assert_eq!(refreshed.status(), 200, "the refresh token was not used up");
    }
}

/// Everything the server logs while a test runs, at every level, as text and as JSON.
///
/// One global subscriber for the whole test binary, installed on first use, writes each
/// event to the capture of the thread that emitted it, if that thread is capturing: the
/// test's single-threaded runtime runs every task of its in-process server. (A
/// thread-local default subscriber would be simpler, but tracing caches per-callsite
/// interest process-wide, and with other tests logging on other threads at the same time
/// some events went missing.)
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Where an event goes: this thread's capture, or nowhere.
struct ThreadSink(Option<Logs>);

impl Write for ThreadSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(logs) = &self.0 {
            logs.0.lock().unwrap().extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ThreadWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThreadWriter {
    type Writer = ThreadSink;

    fn make_writer(&'a self) -> Self::Writer {
        ThreadSink(CAPTURING.with(|c| c.borrow().clone()))
    }
}

/// Stops this thread's capture when dropped.
struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.borrow_mut().take());
    }
}

impl Logs {
    fn capture(&self) -> CaptureGuard {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            use tracing_subscriber::Layer as _;
            use tracing_subscriber::layer::SubscriberExt as _;
            // Everything from a capturing thread but the test's own HTTP client.
            // Dynamic: a plain filter_fn's answer is cached per callsite, and the first
            // thread to reach a callsite is usually not capturing.
            let wanted = tracing_subscriber::filter::dynamic_filter_fn(|meta, _| {
                !meta.target().starts_with("hyper_util::client")
                    && !meta.target().starts_with("reqwest")
                    && CAPTURING.with(|c| c.borrow().is_some())
            });
            let text = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(ThreadWriter);
            let json = tracing_subscriber::fmt::layer().json().with_writer(ThreadWriter);
            let subscriber = tracing_subscriber::registry().with(text.and_then(json).with_filter(wanted));
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        });
        CAPTURING.with(|c| *c.borrow_mut() = Some(self.clone()));
        CaptureGuard
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The pieces of a secret worth looking for: the whole, a JWT's signature, and for long
/// opaque values a 16-character run from the middle (a truncated log line).
fn pieces(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    let parts: Vec<&str> = secret.split('.').collect();
    if parts.len() == 3 {
        out.push(parts[2].to_owned());
    } else if secret.len() >= 32 && secret.is_ascii() {
        let middle = secret.len() / 2 - 8;
        out.push(secret[middle..middle + 16].to_owned());
    }
    out
}

/// A person's sign-in that keeps the cookie values it was given.
async fn log_in(
    server: &TestServer,
    browser: &Browser,
    username: &str,
    password: &str,
) -> (Page, Vec<String>) {
    let form = browser.get(&server.url("/login")).await;
    let mut cookies: Vec<String> = set_cookie(&form.headers, "latchkey_csrf").into_iter().collect();
    cookies.push(form.inputs()["csrf_token"].clone());
    let done = browser
        .submit(
            &server.base,
            &form,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await;
    cookies.extend(set_cookie(&done.headers, "latchkey_session"));
    (done, cookies)
}

backend_test! {
    // RFC 6749 §10.3, §10.4, §10.5 and §2.3.1, OWASP Logging Cheat Sheet: no token, code, secret or password in the server log.
    async fn nothing_secret_reaches_the_server_log(backend) {
        let logs = Logs::default();
        let guard = logs.capture();
        let server = TestServer::start_configured(backend.clone(), |c| c.refresh_grace = Duration::ZERO).await;
        server.user("lena", PASSWORD).await;
        let web = server.web_client(&["openid", "profile", "notes:read"]).await;
        let poster = server
            .register(|r| {
                r.scopes = vec!["notes:read".into()];
                r.auth_method = Some("client_secret_post".into());
            })
            .await;
        let service = server.service_client(&["notes:read"]).await;
        let tv = server
            .register(|r| {
                r.name = "Living Room TV".into();
                r.public = true;
                r.grant_types = vec![DEVICE_GRANT.into(), "refresh_token".into()];
                r.scopes = vec!["openid".into(), "notes:read".into()];
            })
            .await;
        let mut secrets: Vec<(&str, String)> = vec![
            ("password", PASSWORD.into()),
            ("new password", NEW_PASSWORD.into()),
            ("wrong password", WRONG_PASSWORD.into()),
            ("password typed as username", PASSWORD_AS_USERNAME.into()),
            ("web secret", web.secret.clone()),
            ("post secret", poster.secret.clone()),
            ("service secret", service.secret.clone()),
            ("verifier", VERIFIER.into()),
        ];
        let token_of = |body: &Value, name: &str| body[name].as_str().map(str::to_owned);

        // Sign-in failures, then success.
        let browser = Browser::new();
        let (failed, _) = log_in(&server, &browser, "lena", WRONG_PASSWORD).await;
        assert!(failed.html.contains("Invalid username or password."));
        log_in(&server, &browser, PASSWORD_AS_USERNAME, PASSWORD).await;
        let (done, cookies) = log_in(&server, &browser, "lena", PASSWORD).await;
        assert_eq!(done.status, 303);
        secrets.extend(cookies.into_iter().map(|c| ("cookie or CSRF token", c)));

        // The code flow with PKCE; a wrong secret first, then the redemption, then a replay.
        let authorize = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid+profile+notes:read&nonce=n\
             &code_challenge={CHALLENGE}&code_challenge_method=S256",
            web.id
        ));
        let code = browser.approve(&server, &authorize, ("lena", PASSWORD)).await["code"].clone();
        secrets.push(("code", code.clone()));
        let redeem = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", VERIFIER)];
        let wrong = Registered { id: web.id.clone(), secret: format!("{}x", web.secret) };
        secrets.push(("wrong secret", wrong.secret.clone()));
        assert_eq!(server.post_form("/oauth2/token", Some(&wrong), &redeem).await.status(), 401);
        let first: Value = server.post_form("/oauth2/token", Some(&web), &redeem).await.json().await.unwrap();
        for name in ["access_token", "refresh_token", "id_token"] {
            secrets.push(("code flow token", token_of(&first, name).unwrap()));
        }
        assert_eq!(server.post_form("/oauth2/token", Some(&web), &redeem).await.status(), 400, "replay");

        // A second grant: refresh, reuse after rotation (theft detection), userinfo, introspection, revocation.
        let code = browser.approve(&server, &authorize, ("lena", PASSWORD)).await["code"].clone();
        secrets.push(("code", code.clone()));
        let redeem = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", VERIFIER)];
        let second: Value = server.post_form("/oauth2/token", Some(&web), &redeem).await.json().await.unwrap();
        let refresh = token_of(&second, "refresh_token").unwrap();
        let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
        let rotated: Value = server.post_form("/oauth2/token", Some(&web), &refresh_form).await.json().await.unwrap();
        let access = token_of(&rotated, "access_token").unwrap();
        assert_eq!(
            server.http.get(server.url("/oauth2/userinfo")).bearer_auth(&access).send().await.unwrap().status(),
            200
        );
        assert_eq!(server.introspect(&service, &access).await["active"], true);
        let in_query = server.http.get(server.url(&format!("/oauth2/userinfo?access_token={access}"))).send().await.unwrap();
        assert_eq!(in_query.status(), 400);
        assert_eq!(server.post_form("/oauth2/token", Some(&web), &refresh_form).await.status(), 400, "reuse");
        let rotated_refresh = token_of(&rotated, "refresh_token").unwrap();
        let revoked = server.post_form("/oauth2/revoke", Some(&web), &[("token", &rotated_refresh)]).await;
        assert_eq!(revoked.status(), 200);
        for body in [&second, &rotated] {
            for name in ["access_token", "refresh_token", "id_token"] {
                secrets.extend(token_of(body, name).map(|t| ("refresh flow token", t)));
            }
        }

        // Client credentials, by Basic and in the body, and a refused scope.
        secrets.push(("client credentials token", server.token(&service, Some("notes:read")).await));
        let posted: Value = server
            .post_form(
                "/oauth2/token",
                None,
                &[("grant_type", "client_credentials"), ("client_id", &poster.id), ("client_secret", &poster.secret)],
            )
            .await
            .json()
            .await
            .unwrap();
        secrets.push(("client_secret_post token", token_of(&posted, "access_token").unwrap()));
        let refused = server
            .post_form("/oauth2/token", Some(&service), &[("grant_type", "client_credentials"), ("scope", "admin")])
            .await;
        assert_eq!(refused.status(), 400);

        // The device flow.
        let started: Value = server
            .post_form("/oauth2/device_authorization", None, &[("client_id", &tv.id), ("scope", "openid notes:read")])
            .await
            .json()
            .await
            .unwrap();
        let device_code = started["device_code"].as_str().unwrap().to_owned();
        let user_code = started["user_code"].as_str().unwrap().to_owned();
        secrets.push(("device code", device_code.clone()));
        secrets.push(("user code", user_code.clone()));
        let poll = [("grant_type", DEVICE_GRANT), ("device_code", device_code.as_str()), ("client_id", tv.id.as_str())];
        assert_eq!(server.post_form("/oauth2/token", None, &poll).await.status(), 400, "pending");
        let entry = browser.get(started["verification_uri_complete"].as_str().unwrap()).await;
        let confirm = browser.submit(&server.base, &entry, "/device", &[]).await;
        let done = browser.submit(&server.base, &confirm, "/device/confirm", &[("decision", "allow")]).await;
        assert!(done.html.contains("Device connected"), "{}", done.html);
        server.clock.advance(Duration::from_secs(6));
        let device_tokens: Value = server.post_form("/oauth2/token", None, &poll).await.json().await.unwrap();
        for name in ["access_token", "refresh_token", "id_token"] {
            secrets.push(("device token", token_of(&device_tokens, name).unwrap()));
        }

        // The account page: a wrong current password, then a change; the grant revoked.
        let account = browser.get(&server.url("/account")).await;
        let change = |current: &'static str| {
            [("current_password", current), ("new_password", NEW_PASSWORD), ("new_password_again", NEW_PASSWORD)]
        };
        let wrong = browser.submit(&server.base, &account, "/account/password", &change(WRONG_PASSWORD)).await;
        assert_eq!(wrong.status, 403);
        let changed = browser.submit(&server.base, &account, "/account/password", &change(PASSWORD)).await;
        assert_eq!(changed.status, 200, "{}", changed.html);
        let revoked = browser
            .submit(&server.base, &account, "/grants/revoke", &[("client_id", web.id.as_str()), ("revoke", "confirm")])
            .await;
        assert_eq!(revoked.status, 303);
        assert_eq!(server.introspect(&service, &access).await, json!({"active": false}));

        server.stop().await;
        drop(guard);
        let log = logs.text();
        assert!(
            log.contains("latchkey::audit") && log.contains("token.issued"),
            "the capture works: {} audit lines, {} token.issued, {} bytes",
            log.matches("latchkey::audit").count(),
            log.matches("token.issued").count(),
            log.len()
        );
        for kind in ["code.replayed", "refresh.reuse_detected", "login.failed", "password.changed", "grant.revoked"] {
            assert!(log.contains(kind), "{kind} was logged");
        }
        for (what, secret) in &secrets {
            assert!(!secret.is_empty(), "{what}");
            for piece in pieces(secret) {
                if let Some(at) = log.find(&piece) {
                    let from = log[..at].rfind('\n').map_or(0, |n| n + 1);
                    let to = log[at..].find('\n').map_or(log.len(), |n| at + n);
                    panic!("the log holds a {what}: {}", &log[from..to]);
                }
            }
        }
    }
}
