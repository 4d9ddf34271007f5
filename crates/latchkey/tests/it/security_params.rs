//! Malformed parameters as attacks (RFC 6749 §3.1, §3.2 and §5.2; RFC 9700 §4.x input
//! handling): a repeated parameter (parameter pollution: which copy wins?) is
//! `invalid_request` at the token, introspection, revocation and device endpoints and a
//! 400 page at the authorization endpoint and on every form; very long parameters and
//! bodies get a clear 4xx; bytes that are not UTF-8 (`%FF`) and NUL (`%00`) are refused
//! as bad requests. Never a 5xx, and a refused request changes nothing.

use serde_json::Value;

use crate::support::{
    Browser, Page, Registered, TestServer, assert_oauth_error, backend_test, redirect_params,
};

const PASSWORD: &str = "correct horse battery staple";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const FORM: &str = "application/x-www-form-urlencoded";

/// POSTs a raw form body, with Basic credentials when given.
async fn post_raw(
    server: &TestServer,
    path: &str,
    auth: Option<&Registered>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = server
        .http
        .post(server.url(path))
        .header("content-type", FORM)
        .body(body);
    if let Some(client) = auth {
        request = request.basic_auth(&client.id, Some(&client.secret));
    }
    request.send().await.unwrap()
}

/// POSTs a raw form body from `browser` (its cookies), as a page.
async fn browser_post_raw(browser: &Browser, url: &str, body: impl Into<reqwest::Body>) -> Page {
    let response = browser
        .http
        .post(url)
        .header("content-type", FORM)
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `name=value&...`, form-encoded.
fn body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn assert_bad_page(page: &Page, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.html);
    assert!(page.location().is_none(), "{what}: no redirect");
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{what}: a page"
    );
}

/// The fixtures every test here needs: a user, a code-flow client with a live code and
/// tokens, a service client, a device client with a pending device code.
struct World {
    server: TestServer,
    web: Registered,
    service: Registered,
    tv: Registered,
    code: String,
    access: String,
    refresh: String,
    device_code: String,
}

impl World {
    async fn new(backend: crate::support::Backend) -> Self {
        let server = TestServer::start_on(backend).await;
        server.user("lena", PASSWORD).await;
        let web = server.web_client(&["openid", "notes:read"]).await;
        let service = server.service_client(&["notes:read"]).await;
        let tv = server
            .register(|r| {
                r.name = "Living Room TV".into();
                r.public = true;
                r.grant_types = vec![DEVICE_GRANT.into()];
                r.scopes = vec!["notes:read".into()];
            })
            .await;
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}",
            web.id
        ));
        let browser = Browser::new();
        let first = browser.approve(&server, &url, ("lena", PASSWORD)).await["code"].clone();
        let tokens: Value = server
            .post_form(
                "/oauth2/token",
                Some(&web),
                &[("grant_type", "authorization_code"), ("code", &first)],
            )
            .await
            .json()
            .await
            .unwrap();
        let code = browser.approve(&server, &url, ("lena", PASSWORD)).await["code"].clone();
        let started: Value = server
            .post_form("/oauth2/device_authorization", None, &[("client_id", &tv.id)])
            .await
            .json()
            .await
            .unwrap();
        Self {
            web,
            service,
            tv,
            code,
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
            device_code: started["device_code"].as_str().unwrap().to_owned(),
            server,
        }
    }

    /// Nothing the refused requests touched was used up or revoked.
    async fn assert_unchanged(&self) {
        let server = &self.server;
        assert_eq!(
            server.introspect(&self.web, &self.access).await["active"],
            true,
            "the access token lives"
        );
        assert_oauth_error(
            server
                .post_form(
                    "/oauth2/token",
                    None,
                    &[
                        ("grant_type", DEVICE_GRANT),
                        ("device_code", &self.device_code),
                        ("client_id", &self.tv.id),
                    ],
                )
                .await,
            400,
            "authorization_pending",
        )
        .await;
        let code = server
            .post_form(
                "/oauth2/token",
                Some(&self.web),
                &[("grant_type", "authorization_code"), ("code", &self.code)],
            )
            .await;
        assert_eq!(code.status(), 200, "the code was not spent");
        let refresh = server
            .post_form(
                "/oauth2/token",
                Some(&self.web),
                &[("grant_type", "refresh_token"), ("refresh_token", &self.refresh)],
            )
            .await;
        assert_eq!(refresh.status(), 200, "the refresh token was not used up");
    }
}

backend_test! {
    // RFC 6749 §3.1 and §3.2: parameters MUST NOT be repeated; a repeated one is invalid_request, whichever copy is good.
    async fn repeated_parameters_are_invalid_requests_and_change_nothing(backend) {
        let world = World::new(backend.clone()).await;
        let server = &world.server;
        let (code, refresh, access) = (world.code.as_str(), world.refresh.as_str(), world.access.as_str());
        let token_bodies = [
            "grant_type=client_credentials&grant_type=client_credentials".to_owned(),
            format!("grant_type=authorization_code&code={code}&code={code}"),
            format!("grant_type=authorization_code&code=forged&code={code}"),
            format!("grant_type=authorization_code&code={code}&grant_type=refresh_token&refresh_token={refresh}"),
            format!("grant_type=refresh_token&refresh_token={refresh}&refresh_token={refresh}"),
            format!("grant_type=refresh_token&refresh_token={refresh}&scope=openid&scope=notes:read"),
            "grant_type=client_credentials&scope=notes:read&scope=admin".to_owned(),
            // The same name, percent-encoded: still the same parameter.
            format!("grant_type=authorization_code&code={code}&c%6Fde={code}"),
            format!("grant_type=refresh_token&refresh_token={refresh}&refresh%5Ftoken={refresh}"),
        ];
        for body in &token_bodies {
            let response = post_raw(server, "/oauth2/token", Some(&world.web), body.clone()).await;
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        // Client credentials in the body, repeated: which client would it be?
        let post_client = server
            .register(|r| {
                r.scopes = vec!["notes:read".into()];
                r.auth_method = Some("client_secret_post".into());
            })
            .await;
        for body in [
            format!("grant_type=client_credentials&client_id={}&client_id={}&client_secret={}", post_client.id, world.web.id, post_client.secret),
            format!("grant_type=client_credentials&client_id={}&client_secret={}&client_secret=guess", post_client.id, post_client.secret),
            format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={0}&device_code={0}&client_id={1}",
                world.device_code, world.tv.id
            ),
        ] {
            assert_oauth_error(post_raw(server, "/oauth2/token", None, body).await, 400, "invalid_request").await;
        }
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            let response = post_raw(server, path, Some(&world.service), format!("token={access}&token={access}")).await;
            assert_oauth_error(response, 400, "invalid_request").await;
            let response = post_raw(
                server,
                path,
                Some(&world.web),
                format!("token={access}&token_type_hint=access_token&token_type_hint=refresh_token"),
            )
            .await;
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        let response = post_raw(
            server,
            "/oauth2/device_authorization",
            None,
            format!("client_id={0}&client_id={0}&scope=notes:read", world.tv.id),
        )
        .await;
        assert_oauth_error(response, 400, "invalid_request").await;
        world.assert_unchanged().await;
    }
}

backend_test! {
    // RFC 6749 §3.1: at the authorization endpoint a repeated parameter is a 400 page, never a redirect.
    async fn repeated_parameters_at_the_authorization_endpoint_and_on_forms_get_a_400_page(backend) {
        let world = World::new(backend.clone()).await;
        let server = &world.server;
        let id = world.web.id.as_str();
        let cb = encode("https://app.example.com/cb");
        let base = format!("response_type=code&client_id={id}&redirect_uri={cb}&state=s");
        let browser = Browser::new();
        let login = browser.get(&server.url("/login")).await;
        let signed_in = browser
            .submit(&server.base, &login, "/login", &[("username", "lena"), ("password", PASSWORD)])
            .await;
        assert_eq!(signed_in.status, 303);
        for extra in [
            format!("client_id={id}"),
            format!("redirect_uri={cb}"),
            format!("redirect_uri={}", encode("https://evil.example/cb")),
            "response_type=token".to_owned(),
            "state=t".to_owned(),
            "scope=openid&scope=notes:read".to_owned(),
            "nonce=a&nonce=b".to_owned(),
            "prompt=none&prompt=login".to_owned(),
            "code_challenge_method=S256&code_challenge_method=plain".to_owned(),
            "st%61te=t".to_owned(),
        ] {
            let query = format!("{base}&{extra}");
            for who in [&browser, &Browser::new()] {
                let page = who.get(&server.url(&format!("/oauth2/authorize?{query}"))).await;
                assert_bad_page(&page, &format!("GET {extra}"));
                let page = browser_post_raw(who, &server.url("/oauth2/authorize"), query.clone()).await;
                assert_bad_page(&page, &format!("POST {extra}"));
            }
        }

        // The consent form with two decisions, and the login form with two usernames.
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={id}&scope=openid&state=s&prompt=consent"));
        let consent = browser.get(&url).await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        let mut fields: Vec<(String, String)> = consent.inputs().into_iter().collect();
        fields.push(("decision".into(), "deny".into()));
        fields.push(("decision".into(), "allow".into()));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = browser_post_raw(&browser, &server.url("/oauth2/authorize"), body(&pairs)).await;
        assert_bad_page(&page, "two decisions");

        server.user("mallory", PASSWORD).await;
        let fresh = Browser::new();
        let login = fresh.get(&server.url("/login")).await;
        let token = login.inputs()["csrf_token"].clone();
        let form = body(&[
            ("csrf_token", &token),
            ("username", "lena"),
            ("username", "mallory"),
            ("password", PASSWORD),
        ]);
        let page = browser_post_raw(&fresh, &server.url("/login"), form).await;
        assert_bad_page(&page, "two usernames");
        assert!(fresh.get(&server.url("/account")).await.html.contains("not signed in"));
        world.assert_unchanged().await;
    }
}

/// Asserts a response is a client error, never a server error; returns its status.
fn client_error(status: u16, what: &str) -> u16 {
    assert!((400..500).contains(&status), "{what}: a clear 4xx, got {status}");
    status
}

/// `GET target` over a raw connection (the `http` crate cannot even build a URI over
/// 64 KiB); returns the status and the response head, or `None` if the server closed the
/// connection without answering.
async fn raw_get(server: &TestServer, target: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before it has read everything we send.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let head = text.split("\r\n\r\n").next()?.to_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head))
}

backend_test! {
    // RFC 6749 §5.2, RFC 9110 §15.5.14 and §15.5.15: very long parameters and bodies get a clear 4xx, never a 5xx.
    async fn very_long_parameters_and_bodies_get_a_clear_4xx(backend) {
        let world = World::new(backend.clone()).await;
        let server = &world.server;
        let id = world.web.id.as_str();
        let browser = Browser::new();
        let kb = |n: usize| "A".repeat(n * 1024);

        // A 100 kB state at the authorization endpoint: the request is refused, and if it
        // goes back to the client it says invalid_request.
        let target = format!("/oauth2/authorize?response_type=code&client_id={id}&state={}", kb(100));
        let (status, head) = raw_get(server, &target).await.expect("an answer to a 100 kB URL");
        if status == 303 {
            let location = head
                .lines()
                .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
                .unwrap()
                .to_owned();
            assert!(location.starts_with("https://app.example.com/cb"), "{location:.200}");
            assert_eq!(redirect_params(&location)["error"], "invalid_request");
        } else {
            client_error(status, "100 kB state");
        }
        // Under the HTTP layer's URI limit, Latchkey's own (2 kB) applies: invalid_request.
        let page = browser
            .get(&server.url(&format!("/oauth2/authorize?response_type=code&client_id={id}&state={}", kb(60))))
            .await;
        assert_eq!(page.status, 303);
        let location = page.location().unwrap();
        assert!(location.starts_with("https://app.example.com/cb"), "{location:.200}");
        assert_eq!(redirect_params(&location)["error"], "invalid_request", "60 kB state");
        assert!(location.len() < 1024 && !redirect_params(&location).contains_key("state"), "an oversized state is not echoed");
        let page = browser
            .get(&server.url(&format!("/oauth2/authorize?response_type=code&client_id={id}&nonce={}", kb(10))))
            .await;
        assert_eq!(redirect_params(&page.location().unwrap())["error"], "invalid_request", "10 kB nonce");
        for (what, query) in [
            ("client_id", format!("response_type=code&client_id={}", kb(60))),
            ("redirect_uri", format!("response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example.com%2F{}", kb(60))),
        ] {
            let page = browser.get(&server.url(&format!("/oauth2/authorize?{query}"))).await;
            assert_bad_page(&page, what);
        }
        // A 1 MB URL and a 1 MB header are refused by the HTTP layer with a 4xx.
        let target = format!("/oauth2/authorize?client_id={id}&state={}", kb(1024));
        if let Some((status, _)) = raw_get(server, &target).await {
            client_error(status, "1 MB URL");
        }
        let huge = server
            .http
            .post(server.url("/oauth2/token"))
            .header("authorization", format!("Basic {}", kb(1024)))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        if let Ok(response) = huge {
            client_error(response.status().as_u16(), "1 MB Authorization header");
        }

        // 1 MB bodies: 413 on the API endpoints, a 4xx page on the forms.
        let mega = format!("grant_type=client_credentials&scope={}", kb(1024));
        for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/oauth2/device_authorization"] {
            let response = post_raw(server, path, Some(&world.service), mega.clone()).await;
            assert_oauth_error(response, 413, "invalid_request").await;
        }
        for path in ["/oauth2/authorize", "/login", "/logout", "/device", "/device/confirm", "/account/password", "/grants/revoke"] {
            let page = browser_post_raw(&browser, &server.url(path), mega.clone()).await;
            client_error(page.status, path);
        }

        // Long values inside the limit: each refused by what it is.
        let long = kb(60);
        for (what, form, status, code) in [
            ("code", vec![("grant_type", "authorization_code"), ("code", long.as_str())], 400, "invalid_grant"),
            ("refresh_token", vec![("grant_type", "refresh_token"), ("refresh_token", long.as_str())], 400, "invalid_grant"),
            ("scope", vec![("grant_type", "client_credentials"), ("scope", long.as_str())], 400, "invalid_scope"),
            ("grant_type", vec![("grant_type", long.as_str())], 400, "unsupported_grant_type"),
            ("code_verifier", vec![("grant_type", "authorization_code"), ("code", "x"), ("code_verifier", long.as_str())], 400, "invalid_grant"),
        ] {
            let response = server.post_form("/oauth2/token", Some(&world.web), &form).await;
            assert_eq!(response.status(), status, "60 kB {what}");
            assert_oauth_error(response, status, code).await;
        }
        let long_id = server
            .post_form("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_id", &long), ("client_secret", "x")])
            .await;
        assert_oauth_error(long_id, 401, "invalid_client").await;
        let long_secret = Registered { id: world.web.id.clone(), secret: long.clone() };
        let response = server.post_form("/oauth2/token", Some(&long_secret), &[("grant_type", "client_credentials")]).await;
        assert_oauth_error(response, 401, "invalid_client").await;
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            let response = server.post_form(path, Some(&world.web), &[("token", &long)]).await;
            assert_eq!(response.status(), 200, "{path}: an unknown token (RFC 7009 §2.2, RFC 7662 §2.2)");
        }
        let device = server
            .post_form("/oauth2/token", None, &[("grant_type", DEVICE_GRANT), ("device_code", &long), ("client_id", &world.tv.id)])
            .await;
        assert_oauth_error(device, 400, "invalid_grant").await;

        // Long form fields: a failed login, an unknown user code.
        let login = browser.get(&server.url("/login")).await;
        for (username, password) in [(long.as_str(), PASSWORD), ("lena", long.as_str())] {
            let page = browser
                .submit(&server.base, &login, "/login", &[("username", username), ("password", password)])
                .await;
            assert_eq!(page.status, 200, "{}", page.html);
            assert!(page.html.contains("Invalid username or password."));
        }
        let entry = browser.get(&server.url("/device")).await;
        let page = browser.submit(&server.base, &entry, "/device", &[("user_code", &long)]).await;
        assert_eq!(page.status, 400);
        world.assert_unchanged().await;
    }
}

backend_test! {
    // RFC 6749 §3.1, §3.2 and §5.2 (invalid_request: malformed): bytes that are not UTF-8 are invalid_request, never a 5xx.
    async fn bytes_that_are_not_utf8_are_invalid_requests(backend) {
        let world = World::new(backend.clone()).await;
        let server = &world.server;
        let (code, refresh) = (world.code.as_str(), world.refresh.as_str());
        for body in [
            format!("grant_type=authorization_code&code={code}%FF"),
            format!("grant_type=refresh_token&refresh_token={refresh}&scope=%FF"),
            "grant_type=client_credentials&sc%FFope=notes:read".to_owned(),
            "grant_type=client_credentials%C3%28".to_owned(),
            format!("grant_type=authorization_code&code={code}&code_verifier=%ED%A0%80"),
        ] {
            let response = post_raw(server, "/oauth2/token", Some(&world.web), body.clone()).await;
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        let mut raw = b"grant_type=client_credentials&scope=".to_vec();
        raw.extend_from_slice(&[0xff, 0xfe]);
        let response = post_raw(server, "/oauth2/token", Some(&world.service), raw).await;
        assert_oauth_error(response, 400, "invalid_request").await;
        for path in ["/oauth2/introspect", "/oauth2/revoke", "/oauth2/device_authorization"] {
            let response = post_raw(server, path, Some(&world.service), "token=%FF&scope=%FF".to_owned()).await;
            assert_oauth_error(response, 400, "invalid_request").await;
        }
        // Credentials: a header that is not ASCII, Basic that decodes to something not UTF-8.
        let not_ascii = reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
        let response = server
            .http
            .post(server.url("/oauth2/token"))
            .header("authorization", not_ascii)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, 401, "invalid_client").await;
        use base64::Engine as _;
        for raw in [&b"\xff\xfe:secret"[..], format!("{}:%FF", world.web.id).as_bytes()] {
            let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
            let response = server
                .http
                .post(server.url("/oauth2/token"))
                .header("authorization", header)
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert_oauth_error(response, 401, "invalid_client").await;
        }

        // Pages: the authorization request, the login and device forms.
        let id = world.web.id.as_str();
        let browser = Browser::new();
        for query in [format!("response_type=code&client_id={id}&state=%FF"), format!("response_type=code&client_id={id}%FF")] {
            let page = browser.get(&server.url(&format!("/oauth2/authorize?{query}"))).await;
            assert_bad_page(&page, &query);
            let page = browser_post_raw(&browser, &server.url("/oauth2/authorize"), query.clone()).await;
            assert_bad_page(&page, &query);
        }
        let login = browser.get(&server.url("/login")).await;
        let token = encode(&login.inputs()["csrf_token"]);
        let page = browser_post_raw(&browser, &server.url("/login"), format!("csrf_token={token}&username=lena&password=%FF")).await;
        assert_bad_page(&page, "login");
        let page = browser_post_raw(&browser, &server.url("/device"), format!("csrf_token={token}&user_code=%FF")).await;
        assert_bad_page(&page, "device");
        // A cookie header that is not ASCII is ignored, not a failure.
        let cookie = reqwest::header::HeaderValue::from_bytes(b"latchkey_session=\xff\xfe").unwrap();
        let response = server.http.get(server.url("/account")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("not signed in"));
        world.assert_unchanged().await;
    }
}

/// A NUL refused: with the parameter's own RFC 6749 §5.2 error, or as a malformed request
/// (`invalid_request`); either is right, a 5xx never is, and the NUL is not echoed.
async fn assert_nul_refused(response: reqwest::Response, status: u16, error: &str, what: &str) {
    let got = response.status().as_u16();
    assert!(got < 500, "{what}: {got}");
    let body: Value = response.json().await.unwrap();
    let refused = (got, body["error"].as_str().unwrap_or_default());
    assert!(
        refused == (status, error) || refused == (400, "invalid_request"),
        "{what}: {got} {body}"
    );
    assert!(
        !body.to_string().contains("\\u0000"),
        "{what}: the NUL is not echoed: {body}"
    );
}

backend_test! {
    // RFC 6749 §5.2 (malformed requests): NUL (%00) in grant types, codes, tokens and scopes is a clear 4xx, never a 5xx.
    async fn nul_bytes_in_codes_tokens_and_scopes_are_refused_cleanly(backend) {
        let world = World::new(backend.clone()).await;
        let server = &world.server;
        let (code, refresh) = (world.code.as_str(), world.refresh.as_str());
        let id = world.web.id.as_str();
        for (body, status, error) in [
            ("grant_type=client_credentials%00".to_owned(), 400, "unsupported_grant_type"),
            ("grant_type=%00".to_owned(), 400, "unsupported_grant_type"),
            (format!("grant_type=authorization_code&code={code}%00"), 400, "invalid_grant"),
            (format!("grant_type=authorization_code&code=%00{code}"), 400, "invalid_grant"),
            (format!("grant_type=refresh_token&refresh_token={refresh}%00"), 400, "invalid_grant"),
            (format!("grant_type=refresh_token&refresh_token={refresh}&scope=openid%00"), 400, "invalid_scope"),
            ("grant_type=client_credentials&scope=notes:read%00".to_owned(), 400, "invalid_scope"),
            ("grant_type=authorization_code&code=x&code_verifier=%00".to_owned(), 400, "invalid_grant"),
            ("grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%00".to_owned(), 400, "invalid_grant"),
        ] {
            let response = post_raw(server, "/oauth2/token", Some(&world.web), body.clone()).await;
            assert_nul_refused(response, status, error, &body).await;
        }
        let device = post_raw(
            server,
            "/oauth2/token",
            None,
            format!("grant_type={}&device_code={}%00&client_id={}", encode(DEVICE_GRANT), world.device_code, world.tv.id),
        )
        .await;
        assert_nul_refused(device, 400, "invalid_grant", "device_code").await;
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            let response = post_raw(server, path, Some(&world.web), format!("token={}%00", world.access)).await;
            let status = response.status().as_u16();
            assert!(status == 200 || status == 400, "{path}: not a token of ours, or a malformed request: {status}");
        }
        let response = post_raw(server, "/oauth2/device_authorization", None, format!("client_id={}&scope=notes:read%00", world.tv.id)).await;
        assert_nul_refused(response, 400, "invalid_scope", "device scope").await;

        // Once the client and redirect URI are verified, the error goes back to the client.
        let browser = Browser::new();
        let query = format!("response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%00");
        assert_bad_page(&browser.get(&server.url(&format!("/oauth2/authorize?{query}"))).await, "redirect_uri");
        for query in ["response_type=code%00", "response_type=code&scope=openid%00", "response_type=code&prompt=none%00"] {
            let page = browser.get(&server.url(&format!("/oauth2/authorize?client_id={id}&state=s&{query}"))).await;
            if page.status == 400 {
                assert_bad_page(&page, query);
                continue;
            }
            assert_eq!(page.status, 303, "{query}");
            let params = redirect_params(&page.location().unwrap());
            assert!(params.contains_key("error") && !params.contains_key("code"), "{query}: {params:?}");
        }
        // Forms: NUL in a password, in a user code.
        let login = browser.get(&server.url("/login")).await;
        let page = browser
            .submit(&server.base, &login, "/login", &[("username", "lena"), ("password", "correct horse\u{0}battery staple")])
            .await;
        assert!(page.status == 400 || page.html.contains("Invalid username or password."), "{} {}", page.status, page.html);
        assert!(browser.get(&server.url("/account")).await.html.contains("not signed in"));
        let entry = browser.get(&server.url("/device")).await;
        let page = browser.submit(&server.base, &entry, "/device", &[("user_code", "BCDF\u{0}GHJK")]).await;
        assert_eq!(page.status, 400, "{}", page.html);
        world.assert_unchanged().await;
    }
}

/// NUL in the values Latchkey looks up or stores as text: client ids at every endpoint, a
/// username, the account page's client id, a nonce kept with the code.
async fn nul_bytes_in_client_ids_usernames_and_nonces(backend: crate::support::Backend) {
    let world = World::new(backend).await;
    let server = &world.server;
    let id = world.web.id.as_str();
    for body in [
        format!(
            "grant_type=client_credentials&client_id={id}%00&client_secret={}",
            world.web.secret
        ),
        format!("grant_type=client_credentials&client_id={id}%00"),
        "grant_type=client_credentials&client_id=%00".to_owned(),
        format!(
            "grant_type={}&device_code=x&client_id={}%00",
            encode(DEVICE_GRANT),
            world.tv.id
        ),
    ] {
        let response = post_raw(server, "/oauth2/token", None, body.clone()).await;
        assert_nul_refused(response, 401, "invalid_client", &body).await;
    }
    let nul_id = Registered {
        id: format!("{id}\u{0}"),
        secret: world.web.secret.clone(),
    };
    for (path, form) in [
        ("/oauth2/token", [("grant_type", "client_credentials")]),
        ("/oauth2/introspect", [("token", "x")]),
        ("/oauth2/revoke", [("token", "x")]),
    ] {
        let response = server.post_form(path, Some(&nul_id), &form).await;
        assert_nul_refused(response, 401, "invalid_client", &format!("{path} Basic")).await;
    }
    let response = post_raw(
        server,
        "/oauth2/device_authorization",
        None,
        format!("client_id={}%00", world.tv.id),
    )
    .await;
    assert_nul_refused(response, 401, "invalid_client", "device_authorization").await;
    let browser = Browser::new();
    for query in [
        format!("response_type=code&client_id={id}%00"),
        "response_type=code&client_id=%00".to_owned(),
    ] {
        assert_bad_page(
            &browser
                .get(&server.url(&format!("/oauth2/authorize?{query}")))
                .await,
            &query,
        );
    }

    // The login form: a NUL in the username is a failed login (or a bad request).
    let login = browser.get(&server.url("/login")).await;
    for username in ["lena\u{0}", "\u{0}"] {
        let page = browser
            .submit(
                &server.base,
                &login,
                "/login",
                &[("username", username), ("password", PASSWORD)],
            )
            .await;
        let refused =
            page.status == 400 || (page.status == 200 && page.html.contains("Invalid username or password."));
        assert!(refused, "login as {username:?}: {} {}", page.status, page.html);
    }
    assert!(
        browser
            .get(&server.url("/account"))
            .await
            .html
            .contains("not signed in")
    );

    // Signed in: the revoke form naming a client id with a NUL.
    let done = browser
        .submit(
            &server.base,
            &login,
            "/login",
            &[("username", "lena"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 303);
    let account = browser.get(&server.url("/account")).await;
    let nul_client = format!("{id}\u{0}");
    let ask = browser
        .submit(
            &server.base,
            &account,
            "/grants/revoke",
            &[("client_id", &nul_client), ("revoke", "ask")],
        )
        .await;
    client_error(ask.status, "revoke: no such application");
    // Confirming revokes nothing (no grant has that client id) and goes back to the account.
    let confirm = browser
        .submit(
            &server.base,
            &account,
            "/grants/revoke",
            &[("client_id", &nul_client), ("revoke", "confirm")],
        )
        .await;
    assert!(
        confirm.status == 303 || (400..500).contains(&confirm.status),
        "revoke confirm: {}",
        confirm.status
    );
    assert!(
        browser
            .get(&server.url("/account"))
            .await
            .html
            .contains("Notes Web"),
        "the real grant is still there"
    );

    // A NUL anywhere in an authorization request (here in state and nonce) makes the
    // request malformed as a whole: the parameters cannot be trusted, so the answer is
    // the 400 page, not a redirect carrying parts of them.
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={id}&scope=openid&state=a%00b&nonce=n%00m&prompt=consent"
    ));
    let page = browser.get(&url).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(page.location().is_none());
    assert!(page.html.contains("must not contain NUL"), "{}", page.html);
    world.assert_unchanged().await;
}

// RFC 6749 §5.2 (malformed requests), RFC 9700 §4.x: NUL in client ids, usernames and nonces is a clear 4xx, never a 5xx.
#[tokio::test]
async fn nul_bytes_in_client_ids_usernames_and_nonces_are_refused_cleanly_on_sqlite() {
    nul_bytes_in_client_ids_usernames_and_nonces(crate::support::Backend::Sqlite).await;
}

// RFC 6749 §5.2 (malformed requests), RFC 9700 §4.x: NUL in client ids, usernames and nonces is a clear 4xx, never a 5xx.
#[tokio::test]
async fn nul_bytes_in_client_ids_usernames_and_nonces_are_refused_cleanly_on_postgres() {
    let Some(backend) = crate::support::Backend::postgres() else {
        eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
        return;
    };
    nul_bytes_in_client_ids_usernames_and_nonces(backend).await;
}
