//! Redirect-URI manipulation (RFC 9700 §4.1, RFC 6749 §3.1.2.3 and §10.15, OAuth 2.1 §2.3.1):
//! only the exact registered string is accepted, and until the client and redirect URI
//! are known good every error is a 400 page, never a redirect, whatever the request says.

use crate::support::{Browser, TestServer, backend_test};

/// Each a near miss of the registered `https://app.example.com/cb`.
const TRICKS: &[&str] = &[
    // userinfo and host confusion (RFC 9700 §4.1.1)
    "https://app.example.com@evil.example/cb",
    "https://evil.example@app.example.com/cb",
    "https://evil.example\\@app.example.com/cb",
    "https://app.example.com.evil.example/cb",
    "https://app.example.com./cb",
    "https://xn--pp-8cd.example.com/cb",
    "https://\u{0430}pp.example.com/cb",
    // path, query and fragment games
    "https://app.example.com/cb#",
    "https://app.example.com/cb#x",
    "https://app.example.com/cb/../evil",
    "https://app.example.com/cb/..%2Fevil",
    "https://app.example.com/%63b",
    "https://app.example.com/CB",
    "https://app.example.com//cb",
    "https://app.example.com/cb%00",
    "https://app.example.com/cb%0d%0aLocation:%20https://evil.example",
    "https://app.example.com/cb?redirect=https://evil.example",
    "https://app.example.com/cb&x=1",
    // scheme and port
    "HTTPS://app.example.com/cb",
    "https://app.example.com:443/cb",
    "http://app.example.com:443/cb",
    "//evil.example/cb",
    "https:/app.example.com/cb",
    "data:text/html,hello",
    // (An empty `redirect_uri=` is the parameter omitted, RFC 6749 §3.1, so the single
    // registered URI is used: not a trick.)
];

backend_test! {
    async fn every_near_miss_of_the_registered_redirect_uri_gets_an_error_page(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        for trick in TRICKS {
            let encoded: String = url::form_urlencoded::byte_serialize(trick.as_bytes()).collect();
            let query = format!(
                "response_type=code&client_id={}&redirect_uri={encoded}&scope=openid&state=s",
                client.id
            );
            let get = browser.get(&server.url(&format!("/oauth2/authorize?{query}"))).await;
            assert_eq!(get.status, 400, "GET {trick:?}");
            assert!(get.location().is_none(), "GET {trick:?} must not redirect");
            assert!(!get.html.contains("evil.example"), "the page never echoes the URI: {trick:?}");
            let form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let post = browser.post(&server.url("/oauth2/authorize"), &form).await;
            assert_eq!(post.status, 400, "POST {trick:?}");
            assert!(post.location().is_none(), "POST {trick:?} must not redirect");
        }
        // The exact string works (a control for the list above).
        let exact = browser
            .get(&server.url(&format!(
                "/oauth2/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid",
                client.id
            )))
            .await;
        assert_ne!(exact.status, 400, "{}", exact.html);
    }
}

backend_test! {
    async fn no_error_redirects_before_the_client_and_redirect_uri_are_verified(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.web_client(&["openid"]).await;
        let browser = Browser::new();
        let evil = "redirect_uri=https%3A%2F%2Fevil.example%2Fcb";
        for query in [
            format!("client_id=nobody&response_type=code&{evil}"),
            format!("client_id=nobody&response_type=token&{evil}"),
            format!("response_type=code&{evil}"),
            format!("client_id={}&response_type=bogus&{evil}", client.id),
            format!("client_id={}&response_type=code&scope=%00&{evil}", client.id),
            format!("client_id={}&client_id={}&{evil}", client.id, client.id),
        ] {
            let page = browser.get(&server.url(&format!("/oauth2/authorize?{query}"))).await;
            assert_eq!(page.status, 400, "{query}");
            assert!(page.location().is_none(), "{query}");
        }
        // Once both are verified, errors go back to the client with state and iss.
        let page = browser
            .get(&server.url(&format!(
                "/oauth2/authorize?client_id={}&response_type=bogus&state=st",
                client.id
            )))
            .await;
        let location = page.location().unwrap();
        assert!(location.starts_with("https://app.example.com/cb?"), "{location}");
        assert!(location.contains("error=unsupported_response_type") && location.contains("state=st"));
        assert!(location.contains("iss="), "RFC 9207");
    }
}
