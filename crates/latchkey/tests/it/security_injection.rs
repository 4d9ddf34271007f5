//! SQL and template metacharacters in every user-supplied field (RFC 6819 §5.1.4.1.1,
//! RFC 9700 §4.x on output encoding): client names, scope descriptions, usernames and
//! profile fields are stored as given (bound parameters, never spliced into SQL) and shown
//! back escaped on every page and in every JSON answer.

use serde_json::Value;

use crate::support::{Browser, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";
const HOSTILE: &str = r#"<script>alert("x")</script>'; DROP TABLE clients; -- {{7*7}} ${7*7} &amp; "#;

backend_test! {
    async fn hostile_text_is_stored_verbatim_and_shown_escaped(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let sub = server.user("o'brien", PASSWORD).await;
        server
            .store()
            .update_profile(&latchkey_core::id::UserId::new(sub.clone()), Some("o'brien@example.com"), Some(HOSTILE))
            .await
            .unwrap();
        let client = server
            .register(|r| {
                r.name = HOSTILE.trim().to_owned();
                r.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
                r.redirect_uris = vec!["https://app.example.com/cb".into()];
                r.scopes = vec!["openid".into(), "profile".into(), "notes:read".into()];
            })
            .await;
        server
            .store()
            .describe_scope(&latchkey_core::scope::Scope::parse("notes:read").unwrap(), HOSTILE.trim())
            .await
            .unwrap();

        // The consent page names the client and describes the scope, escaped.
        let browser = Browser::new();
        let url = server.url(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&scope=openid+profile+notes:read",
            client.id
        ));
        let consent = browser.authorize(&server, &url, ("O'Brien", PASSWORD)).await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        let page = &consent.html;
        assert!(!page.contains("<script>alert"), "raw markup on the page");
        assert!(page.contains("&#60;script&#62;alert("), "escaped markup is shown: {page}");
        // Random ids and CSRF tokens may contain "49"; the template text itself must survive.
        assert!(page.contains("{{7*7}} ${7*7}"), "templates are not evaluated");
        let allowed = browser.submit(&server.base, &consent, "/oauth2/authorize", &[("decision", "allow")]).await;
        let code = crate::support::redirect_params(&allowed.location().unwrap())["code"].clone();
        let account = browser.get(&server.url("/account")).await;
        assert!(!account.html.contains("<script>alert") && account.html.contains("&#60;script&#62;"));
        assert!(account.html.contains("Signed in as o&#39;brien"), "{}", account.html);

        // JSON answers carry the text verbatim (JSON-escaped), and the database is intact.
        let tokens: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code)])
            .await
            .json()
            .await
            .unwrap();
        let info: Value = server
            .http
            .get(server.url("/oauth2/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["name"], HOSTILE);
        assert_eq!(info["preferred_username"], "o'brien");
        let stored = server.store().find_client(&latchkey_core::id::ClientId::new(client.id.clone())).await.unwrap().unwrap();
        assert_eq!(stored.name, HOSTILE.trim());
        assert_eq!(server.store().list_clients().await.unwrap().len(), 1, "the clients table is still there");
    }
}
