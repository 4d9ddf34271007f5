//! Roles and permissions (issue #9): a restricted scope reaches only users who hold it
//! through a role: the consent page never offers it to anyone else and their tokens never
//! carry it (RFC 6749 §3.3: the server may grant less than asked, and says so in `scope`).
//! Losing the role takes it out of the next refresh. With the `roles` scope the access and
//! ID tokens name the user's roles.

use latchkey_core::id::UserId;
use latchkey_core::roles::Role;
use latchkey_core::scope::{Scope, ScopeSet};
use serde_json::Value;

use crate::support::{Browser, Registered, TestServer, backend_test, decode_part, latchkey};

const PASSWORD: &str = "correct horse battery staple";

/// Signs `username` in and runs the code flow for `scope`, returning the consent page's
/// HTML (empty if consent was not asked) and the token response.
async fn grant(server: &TestServer, client: &Registered, username: &str, scope: &str) -> (String, Value) {
    let browser = Browser::new();
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope={}&nonce=n-1",
        client.id,
        scope.replace(' ', "+")
    ));
    let mut page = browser.authorize(server, &url, (username, PASSWORD)).await;
    let mut consent = String::new();
    if page.status == 200 {
        consent = page.html.clone();
        page = browser
            .submit(&server.base, &page, "/oauth2/authorize", &[("decision", "allow")])
            .await;
    }
    let code = crate::support::redirect_params(&page.location().unwrap())["code"].clone();
    let tokens: Value = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
        .json()
        .await
        .unwrap();
    (consent, tokens)
}

async fn refresh(server: &TestServer, client: &Registered, tokens: &Value) -> Value {
    let response = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn claims(tokens: &Value, which: &str) -> Value {
    decode_part(tokens[which].as_str().unwrap(), 1)
}

backend_test! {
    async fn restricted_scopes_reach_only_role_holders_and_tokens_name_the_roles(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let store = server.store();
        let write = Scope::parse("notes:write").unwrap();
        store.describe_scope(&write, "Change and delete your notes").await.unwrap();
        store.set_scope_restricted(&write, true).await.unwrap();
        let editor = Role {
            name: "editor".into(),
            description: "Edits notes".into(),
            scopes: ScopeSet::parse("notes:write").unwrap(),
        };
        store.put_role(&editor, latchkey_core::Timestamp::from_secs(1_700_000_000)).await.unwrap();
        let ann = UserId::new(server.user("ann", PASSWORD).await);
        server.user("bob", PASSWORD).await;
        assert!(store.grant_role(&ann, "editor").await.unwrap());
        assert!(!store.grant_role(&ann, "no-such-role").await.unwrap());
        let client = server.web_client(&["openid", "notes:read", "notes:write", "roles"]).await;

        // Bob holds no role: notes:write is neither offered nor granted, whatever he allows.
        let (consent, tokens) = grant(&server, &client, "bob", "openid notes:read notes:write").await;
        assert!(consent.contains("notes:read") || consent.contains("Notes"), "{consent}");
        assert!(!consent.contains("Change and delete your notes"), "not offered: {consent}");
        assert_eq!(tokens["scope"], "notes:read openid");
        assert_eq!(claims(&tokens, "access_token")["scope"], "notes:read openid");
        // Asking for it alone is no way around it.
        let (_, only) = grant(&server, &client, "bob", "notes:write").await;
        assert!(only.get("scope").is_none_or(|s| !s.as_str().unwrap_or_default().contains("notes:write")), "{only}");

        // Ann is an editor: offered, granted, and with `roles` her tokens say so.
        let (consent, tokens) = grant(&server, &client, "ann", "openid notes:read notes:write roles").await;
        assert!(consent.contains("Change and delete your notes"), "{consent}");
        assert_eq!(tokens["scope"], "notes:read notes:write openid roles");
        assert_eq!(claims(&tokens, "access_token")["roles"], serde_json::json!(["editor"]));
        assert_eq!(claims(&tokens, "id_token")["roles"], serde_json::json!(["editor"]));
        let info: Value = server
            .introspect(&client, tokens["access_token"].as_str().unwrap())
            .await;
        assert_eq!(info["active"], true);

        // She loses the role: the next refresh drops the permission and the role.
        assert!(store.revoke_role(&ann, "editor").await.unwrap());
        let refreshed = refresh(&server, &client, &tokens).await;
        assert_eq!(refreshed["scope"], "notes:read openid roles");
        assert_eq!(claims(&refreshed, "access_token")["roles"], serde_json::json!([]));

        // Without `roles`, no roles claim at all.
        store.grant_role(&ann, "editor").await.unwrap();
        let (_, plain) = grant(&server, &client, "ann", "openid notes:write").await;
        assert!(claims(&plain, "access_token").get("roles").is_none());
        assert_eq!(plain["scope"], "notes:write openid");

        // The posture report names a privileged user signing in with a password alone.
        let report = latchkey_core::doctor::examine(
            store,
            &latchkey_core::AuthConfig::with_defaults("https://id.example.com"),
            latchkey_core::doctor::Deployment::default(),
            latchkey_core::Timestamp::from_secs(1_700_000_000),
        )
        .await
        .unwrap();
        let flagged: Vec<&str> = report
            .iter()
            .filter(|f| f.check == "privileged-user-without-mfa")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(flagged, [format!("user:{ann}")], "{report:?}");

        // Deleting the role takes it from everyone.
        assert!(store.delete_role("editor").await.unwrap());
        assert!(store.user_roles(&ann).await.unwrap().is_empty());
        assert!(store.list_roles().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn roles_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let run = |args: &[&str]| {
        let output = latchkey()
            .args(args)
            .args(["--database-url", &url])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, said) = run(&[
        "scope",
        "create",
        "notes:write",
        "--description",
        "Change your notes",
        "--restricted",
    ]);
    assert!(ok && said.contains("restricted to role holders"), "{said}");
    let (ok, said) = run(&[
        "role",
        "create",
        "editor",
        "--scope",
        "notes:write",
        "--scope",
        "notes:read",
        "--description",
        "Edits notes",
    ]);
    assert!(ok, "{said}");
    let (ok, said) = run(&["role", "create", "Bad Name"]);
    assert!(!ok && said.contains("role name"), "{said}");
    let (ok, said) = run(&["role", "list", "--json"]);
    assert!(ok, "{said}");
    let roles: Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        roles,
        serde_json::json!([{"name": "editor", "description": "Edits notes", "scopes": ["notes:read", "notes:write"]}])
    );
    let mut create = latchkey()
        .args([
            "user",
            "create",
            "--username",
            "cleo",
            "--password-stdin",
            "--database-url",
            &url,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(PASSWORD.as_bytes())
        .unwrap();
    assert!(create.wait().unwrap().success());
    let (ok, said) = run(&["user", "grant-role", "cleo", "editor"]);
    assert!(ok && said.contains("cleo now holds role editor"), "{said}");
    let (ok, said) = run(&["user", "grant-role", "cleo", "nobody"]);
    assert!(!ok && said.contains("no role nobody"), "{said}");
    let (ok, said) = run(&["user", "revoke-role", "cleo", "editor"]);
    assert!(ok, "{said}");
    let (ok, said) = run(&["user", "revoke-role", "cleo", "editor"]);
    assert!(!ok && said.contains("does not hold role editor"), "{said}");
    let (ok, said) = run(&["role", "delete", "editor"]);
    assert!(ok, "{said}");
    let (ok, said) = run(&["role", "delete", "editor"]);
    assert!(!ok && said.contains("no role editor"), "{said}");
}
