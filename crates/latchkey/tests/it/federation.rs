//! Signing in through an upstream OpenID Connect provider (issue #9), for real: a second
//! Latchkey is the upstream. Latchkey is its client with PKCE, `state` and `nonce`, checks
//! the ID token against the upstream's JWKS, and links identities by issuer and subject:
//! the first sign-in creates a user; the e-mail of an existing account is never taken over
//! (linking needs that account signed in); a tampered `state` is refused; the last way to
//! sign in cannot be unlinked; an expired ID token and an upstream whose discovery names
//! another issuer are refused; a plain OAuth 2.0 upstream works through its user-info.
//! (Forged signatures, wrong audience and wrong nonce, which a real Latchkey never
//! produces, are refused in the unit tests of `federation::check_id_token` and
//! `latchkey_resource::verify_signed`.)

use latchkey_core::federation::{UpstreamProvider, seal_client_secret};
use latchkey_core::mfa::SecretSealer;

use crate::support::{Browser, Page, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";

/// A local Latchkey with an upstream Latchkey configured as provider `up`.
async fn pair(backend: crate::support::Backend) -> (TestServer, TestServer) {
    pair_with(backend, |_| {}).await
}

/// [`pair`] with the upstream's settings changed by `configure`.
async fn pair_with(
    backend: crate::support::Backend,
    configure: fn(&mut latchkey_core::AuthConfig),
) -> (TestServer, TestServer) {
    let upstream = TestServer::start_configured(crate::support::Backend::Sqlite, configure).await;
    let local = TestServer::start_on(backend).await;
    upstream.user("ursula", PASSWORD).await;
    let client = upstream
        .register(|r| {
            r.name = "Local Latchkey".into();
            r.grant_types = vec!["authorization_code".into()];
            r.redirect_uris = vec![format!("{}/login/upstream/up/callback", local.base)];
            r.scopes = vec!["openid".into(), "email".into(), "profile".into()];
        })
        .await;
    let provider = UpstreamProvider {
        id: "up".into(),
        name: "Upstream".into(),
        issuer: upstream.issuer.clone(),
        client_id: client.id.clone(),
        sealed_secret: seal_client_secret(&SecretSealer::new(local.master()), "up", &client.secret),
        scopes: "openid email profile".into(),
        oauth2: None,
        created_at: latchkey_core::Timestamp::from_secs(1_700_000_000),
    };
    local.store().put_provider(&provider).await.unwrap();
    (upstream, local)
}

/// From `start` (a page whose redirect goes to the upstream) through the upstream's login
/// and consent, to the upstream's redirect back to the local callback.
async fn at_upstream(upstream: &TestServer, browser: &Browser, start: &Page) -> String {
    let authorize = start.location().unwrap();
    assert!(
        authorize.starts_with(&format!("{}/oauth2/authorize?", upstream.base)),
        "{authorize}"
    );
    for needed in ["code_challenge_method=S256", "state=", "nonce=", "scope=openid"] {
        assert!(authorize.contains(needed), "{needed} in {authorize}");
    }
    let mut page = browser
        .authorize(upstream, &authorize, ("ursula", PASSWORD))
        .await;
    if page.status == 200 {
        page = browser
            .submit(
                &upstream.base,
                &page,
                "/oauth2/authorize",
                &[("decision", "allow")],
            )
            .await;
    }
    page.location().unwrap()
}

backend_test! {
    async fn the_first_upstream_sign_in_creates_a_user_and_later_ones_find_it(backend) {
        let (upstream, local) = pair(backend.clone()).await;
        let browser = Browser::new();
        let login = browser.get(&local.url("/login?return_to=%2Faccount")).await;
        assert!(login.html.contains("Continue with Upstream"), "{}", login.html);
        let start = browser.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &browser, &start).await;
        assert!(callback.starts_with(&format!("{}/login/upstream/up/callback?", local.base)), "{callback}");

        // A tampered state is refused, and nothing is created.
        let tampered = callback.replace("state=", "state=x");
        let refused = browser.get(&tampered).await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        assert!(local.store().list_users().await.unwrap().is_empty());

        let done = browser.get(&callback).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location().as_deref(), Some("/account"));
        let account = browser.get(&local.url("/account")).await;
        assert!(account.html.contains("Signed in as ursula"), "{}", account.html);
        assert!(account.html.contains("<strong>Upstream</strong>"), "the identity is listed");
        let users = local.store().list_users().await.unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].email.as_deref(), Some("ursula@example.com"));
        // The code cannot be used twice.
        assert_ne!(browser.get(&callback).await.status, 303);

        // Signing in again reaches the same user; no second account.
        let again = Browser::new();
        let start = again.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &again, &start).await;
        assert_eq!(again.get(&callback).await.status, 303);
        assert!(again.get(&local.url("/account")).await.html.contains("Signed in as ursula"));
        assert_eq!(local.store().list_users().await.unwrap().len(), 1);

        // Its only way to sign in cannot be unlinked.
        let account = again.get(&local.url("/account")).await;
        let unlink = again
            .submit(&local.base, &account, "/account/upstream/unlink", &[("unlink", "1")])
            .await;
        assert_eq!(unlink.status, 409, "{}", unlink.html);
        assert!(unlink.html.contains("only way you can sign in"));
    }
}

backend_test! {
    async fn an_existing_accounts_email_is_not_taken_over_but_can_be_linked_from_the_account(backend) {
        let (upstream, local) = pair(backend.clone()).await;
        // A local account with the same e-mail as the upstream user.
        local.user("ursula", PASSWORD).await;
        let attacker = Browser::new();
        let start = attacker.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &attacker, &start).await;
        let refused = attacker.get(&callback).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert!(refused.html.contains("already exists"), "{}", refused.html);
        assert!(!attacker.get(&local.url("/account")).await.html.contains("Signed in as"));

        // The owner signs in with the password and links the upstream identity.
        let owner = Browser::new();
        let form = owner.get(&local.url("/login?return_to=%2Faccount")).await;
        owner
            .submit(&local.base, &form, "/login", &[("username", "ursula"), ("password", PASSWORD)])
            .await;
        let account = owner.get(&local.url("/account")).await;
        assert!(account.html.contains("Link Upstream"), "{}", account.html);
        let start = owner
            .submit(&local.base, &account, "/account/upstream/up/link", &[("link", "up")])
            .await;
        let callback = at_upstream(&upstream, &owner, &start).await;
        let linked = owner.get(&callback).await;
        assert_eq!(linked.status, 303, "{}", linked.html);
        assert_eq!(local.store().list_users().await.unwrap().len(), 1, "no second account");

        // Now the upstream sign-in reaches the existing account.
        let later = Browser::new();
        let start = later.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &later, &start).await;
        assert_eq!(later.get(&callback).await.status, 303);
        let account = later.get(&local.url("/account")).await;
        assert!(account.html.contains("Signed in as ursula"), "{}", account.html);

        // With a password to fall back on, unlinking works.
        let unlink = later
            .submit(&local.base, &account, "/account/upstream/unlink", &[("unlink", "1")])
            .await;
        assert_eq!(unlink.status, 303, "{}", unlink.html);
        let ursula = local.store().list_users().await.unwrap()[0].id.clone();
        assert!(local.store().list_identities(&ursula).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn providers_are_managed_from_the_command_line() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let run = |args: &[&str], stdin: &str| {
        let mut child = crate::support::latchkey()
            .args(args)
            .args(["--database-url", &url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let add = [
        "provider",
        "add",
        "corp",
        "--name",
        "Corp",
        "--issuer",
        "https://id.corp.example",
        "--client-id",
        "lk",
        "--client-secret-stdin",
    ];
    let (ok, said) = run(&add, "s3cret\n");
    assert!(ok, "{said}");
    assert!(!said.contains("s3cret"), "the secret is not echoed");
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "Bad Id",
            "--name",
            "x",
            "--issuer",
            "https://x",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(!ok && said.contains("provider id"), "{said}");
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "x",
            "--name",
            "x",
            "--issuer",
            "https://x/",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(!ok && said.contains("trailing slash"), "{said}");
    let (ok, said) = run(&add, "\n");
    assert!(!ok && said.contains("empty"), "{said}");
    let (ok, said) = run(&["provider", "list", "--json"], "");
    assert!(ok, "{said}");
    let listed: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"id": "corp", "name": "Corp", "issuer": "https://id.corp.example", "client_id": "lk", "scopes": "openid email profile"}])
    );
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "g",
            "--preset",
            "google",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(
        ok && said.contains("Google at https://accounts.google.com"),
        "{said}"
    );
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "m",
            "--preset",
            "microsoft",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(!ok && said.contains("--tenant"), "{said}");
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "m",
            "--preset",
            "microsoft",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(
        ok && said.contains("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
        "{said}"
    );
    let (ok, said) = run(
        &[
            "provider",
            "add",
            "gh",
            "--preset",
            "github",
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        "s\n",
    );
    assert!(ok && said.contains("GitHub at https://github.com"), "{said}");
    let listed = run(&["provider", "list", "--json"], "").1;
    assert!(listed.contains(r#""scopes": "read:user user:email""#), "{listed}");
    for id in ["g", "m", "gh"] {
        assert!(run(&["provider", "delete", id], "").0);
    }
    assert!(run(&["provider", "delete", "corp"], "").0);
    let (ok, said) = run(&["provider", "delete", "corp"], "");
    assert!(!ok && said.contains("no provider corp"), "{said}");
}

#[tokio::test]
async fn providers_in_the_settings_file_are_stored_at_start_with_their_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let config = dir.path().join("latchkey.toml");
    std::fs::write(
        &config,
        r#"
[[providers]]
id = "corp"
name = "Corp"
issuer = "https://id.corp.example"
client_id = "lk"
client_secret_env = "CORP_CLIENT_SECRET"

[[providers]]
id = "google"
preset = "google"
client_id = "lk-google"
client_secret_env = "GOOGLE_CLIENT_SECRET"
scopes = ["email"]
"#,
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let port = crate::support::free_port();
    let env = [
        ("CORP_CLIENT_SECRET", "corp-s3cret"),
        ("GOOGLE_CLIENT_SECRET", "google-s3cret"),
    ];
    let server = crate::support::serve(&url, port, &["--config", &config_arg], &env);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    crate::support::wait_until_up(&http, &base).await;
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("Continue with Corp") && login.contains("Continue with Google"),
        "{login}"
    );
    drop(server);
    let listed = crate::support::latchkey()
        .args(["provider", "list", "--json", "--database-url", &url])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[1]["issuer"], "https://accounts.google.com");
    assert_eq!(listed[1]["scopes"], "openid email");
    assert!(!listed.to_string().contains("s3cret"));

    // A secret missing from the environment stops the start, saying which.
    let refused = crate::support::latchkey()
        .args(["serve", "--config", &config_arg, "--database-url", &url])
        .env("CORP_CLIENT_SECRET", "x")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("GOOGLE_CLIENT_SECRET"));
}

backend_test! {
    async fn a_plain_oauth2_upstream_signs_in_through_its_user_info(backend) {
        // The upstream Latchkey used as a plain OAuth 2.0 server: no discovery, no ID token,
        // the user read from its user-info endpoint with the access token.
        let (upstream, local) = pair(backend.clone()).await;
        let mut provider = local.store().find_provider("up").await.unwrap().unwrap();
        provider.name = "Plain".into();
        provider.oauth2 = Some(latchkey_core::federation::PlainOAuth {
            authorize_url: format!("{}/oauth2/authorize", upstream.base),
            token_url: format!("{}/oauth2/token", upstream.base),
            userinfo_url: format!("{}/oauth2/userinfo", upstream.base),
            subject_field: "sub".into(),
            email_field: "email".into(),
            username_field: "preferred_username".into(),
            name_field: "name".into(),
        });
        local.store().put_provider(&provider).await.unwrap();
        let browser = Browser::new();
        let start = browser.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &browser, &start).await;
        let done = browser.get(&callback).await;
        assert_eq!(done.status, 303, "{}", done.html);
        let account = browser.get(&local.url("/account")).await;
        assert!(account.html.contains("Signed in as ursula"), "{}", account.html);
        assert!(account.html.contains("<strong>Plain</strong>"));
        let users = local.store().list_users().await.unwrap();
        assert_eq!(users[0].email.as_deref(), Some("ursula@example.com"));
        let identities = local.store().list_identities(&users[0].id).await.unwrap();
        let upstream_sub = upstream.store().find_user_by_username("ursula").await.unwrap().unwrap().0.id;
        assert_eq!(identities[0].subject, upstream_sub.as_str(), "linked by the upstream's id");
    }
}

backend_test! {
    async fn an_expired_id_token_or_an_upstream_naming_another_issuer_is_refused(backend) {
        // ID tokens that live one second; the local clock moves on before the answer.
        let (upstream, local) = pair_with(backend.clone(), |c| c.id_token_ttl = std::time::Duration::from_secs(1)).await;
        let browser = Browser::new();
        let start = browser.get(&local.url("/login/upstream/up?return_to=%2Faccount")).await;
        let callback = at_upstream(&upstream, &browser, &start).await;
        local.clock.advance(std::time::Duration::from_secs(120));
        let expired = browser.get(&callback).await;
        assert_eq!(expired.status, 400, "{}", expired.html);
        assert!(expired.html.contains("expired"), "{}", expired.html);
        assert!(local.store().list_users().await.unwrap().is_empty());

        // Mix-up defence: a provider whose discovery document names another issuer (here
        // the same server reached as localhost) is not used.
        let mut provider = local.store().find_provider("up").await.unwrap().unwrap();
        provider.issuer = upstream.issuer.replace("127.0.0.1", "localhost");
        local.store().put_provider(&provider).await.unwrap();
        let refused = Browser::new().get(&local.url("/login/upstream/up")).await;
        assert_eq!(refused.status, 502, "{}", refused.html);
        assert!(refused.html.contains("names another issuer"), "{}", refused.html);
    }
}
