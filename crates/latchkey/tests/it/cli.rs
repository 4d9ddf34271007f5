//! The `latchkey` binary as an operator uses it: admin commands, one-line errors, and
//! `serve` in an empty directory, sharing its database with the admin commands.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn latchkey(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("LATCHKEY_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

fn ok_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A failure is one line on stderr starting with `error:`, a non-zero exit, no panic.
fn assert_clean_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "expected failure, got: {}",
        stdout(output)
    );
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn the_client_registry_lifecycle_never_shows_a_secret_twice() {
    let dir = tempfile::tempdir().unwrap();
    let created = ok_json(&latchkey(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Billing",
            "--scope",
            "invoices:read",
            "--scope",
            "invoices:write",
            "--json",
        ],
    ));
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "at least 256 bits");
    assert_eq!(created["client_name"], "Billing");
    assert_eq!(created["grant_types"], serde_json::json!(["client_credentials"]));
    assert_eq!(created["scope"], "invoices:read invoices:write");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert!(dir.path().join("latchkey.db").exists());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("latchkey.db.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated master key file is private");
    }

    for args in [
        &["client", "list"][..],
        &["client", "list", "--json"],
        &["client", "show", &id],
        &["client", "show", &id, "--json"],
    ] {
        let output = latchkey(dir.path(), args);
        assert!(output.status.success());
        assert!(stdout(&output).contains(&id));
        assert!(
            !stdout(&output).contains(&secret),
            "{args:?} must not print the secret"
        );
    }

    let public = ok_json(&latchkey(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "CLI",
            "--public",
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:device_code",
            "--json",
        ],
    ));
    assert!(public.get("client_secret").is_none());
    assert_eq!(public["token_endpoint_auth_method"], "none");
    let public_id = public["client_id"].as_str().unwrap();
    assert_clean_failure(&latchkey(dir.path(), &["client", "rotate-secret", public_id]));

    let rotated = ok_json(&latchkey(dir.path(), &["client", "rotate-secret", &id, "--json"]));
    assert_ne!(rotated["client_secret"], secret.as_str());

    let deleted = latchkey(dir.path(), &["client", "delete", &id]);
    assert!(deleted.status.success());
    assert_clean_failure(&latchkey(dir.path(), &["client", "show", &id]));
    assert_clean_failure(&latchkey(dir.path(), &["client", "delete", &id]));
}

#[test]
fn nonsense_is_refused_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 8] = [
        &[
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
        &[
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://a.example/*",
        ],
        &[
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        &["client", "create", "--name", "X", "--grant-type", "password"],
        &[
            "client",
            "create",
            "--name",
            "X",
            "--public",
            "--grant-type",
            "client_credentials",
        ],
        &["client", "create", "--name", "X", "--scope", "bad\"scope"],
        &["--listen", "not-an-address", "serve"],
        &["--access-token-ttl", "forever", "client", "list"],
    ];
    for args in cases {
        let stderr = assert_clean_failure(&latchkey(dir.path(), args));
        assert!(stderr.len() > 20, "{args:?}: {stderr}");
    }
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "lisen = 1\n").unwrap();
    let stderr = assert_clean_failure(&latchkey(
        dir.path(),
        &["--config", config.to_str().unwrap(), "client", "list"],
    ));
    assert!(stderr.contains("LATCHKEY_CONFIG"), "{stderr}");
}

#[test]
fn a_wrong_master_key_is_a_clear_error_not_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let rotated = latchkey(
        dir.path(),
        &["key", "rotate", "--alg", "ES256", "--prepublish", "0"],
    );
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    std::fs::remove_file(dir.path().join("latchkey.db.key")).unwrap();
    let stderr = assert_clean_failure(&latchkey(dir.path(), &["client", "list"]));
    assert!(stderr.contains("master key"), "{stderr}");
    assert!(
        !dir.path().join("latchkey.db.key").exists(),
        "no new key file is left behind"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until_up(http: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up at {base}");
}

#[tokio::test]
async fn serve_in_an_empty_directory_shares_its_database_with_admin_commands_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let mut server = command(dir.path(), &["serve", "--listen", &listen, "--key-refresh", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    wait_until_up(&http, &base).await;
    assert!(dir.path().join("latchkey.db").exists());

    let keys = ok_json(&latchkey(dir.path(), &["key", "list", "--json"]));
    let states: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "active"]);

    // An admin command while the server runs: register a client and use it at once.
    let client = ok_json(&latchkey(
        dir.path(),
        &["client", "create", "--name", "Live", "--json"],
    ));
    let response = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A rotation through the CLI reaches the running server's JWKS as "next" keys.
    let rotate = latchkey(dir.path(), &["key", "rotate"]);
    assert!(rotate.status.success());
    assert!(stdout(&rotate).contains("starts signing at"));
    let created = stdout(&latchkey(
        dir.path(),
        &["audit", "--kind", "key.created", "--json"],
    ));
    assert_eq!(
        created.lines().filter(|l| l.contains(r#""actor":"cli""#)).count(),
        2,
        "the rotation is in the audit trail: {created}"
    );
    let listed = ok_json(&latchkey(dir.path(), &["key", "list", "--json"]));
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == "next")
            .count(),
        2
    );
    let mut published = 0;
    for _ in 0..50 {
        let jwks: Value = http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        published = jwks["keys"].as_array().unwrap().len();
        if published == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(published, 4, "the running server publishes the next keys");

    // SIGTERM drains and exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}

/// Kills a child process on drop, so a failed assertion never leaves a server running.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn two_server_processes_on_one_postgresql_database_act_as_one_service() {
    let Some(backend) = crate::support::Backend::postgres() else {
        eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
        return;
    };
    let database = crate::support::Database::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let master = latchkey_core::secret::MasterKey::generate().to_base64();
    let issuer = "http://latchkey.test";
    let with_env = |mut command: Command| {
        command
            .env("LATCHKEY_DATABASE_URL", &database.url)
            .env("LATCHKEY_MASTER_KEY", &master)
            .env("LATCHKEY_ISSUER", issuer);
        command
    };
    let nodes: Vec<(Running, String)> = (0..2)
        .map(|_| {
            let listen = format!("127.0.0.1:{}", free_port());
            let mut serve = with_env(command(
                dir.path(),
                &["serve", "--listen", &listen, "--key-refresh", "1s"],
            ));
            let child = serve.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            (Running(child), format!("http://{listen}"))
        })
        .collect();
    let http = reqwest::Client::new();
    for (_, base) in &nodes {
        wait_until_up(&http, base).await;
    }
    let (node_a, node_b) = (&nodes[0].1, &nodes[1].1);

    let created = with_env(command(
        dir.path(),
        &["client", "create", "--name", "Shared", "--json"],
    ))
    .output()
    .unwrap();
    let client = ok_json(&created);
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let token: Value = http
        .post(format!("{node_a}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let introspect = |base: &str| {
        http.post(format!("{base}/oauth2/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
    };
    let on_b: Value = introspect(node_b).await.unwrap().json().await.unwrap();
    assert_eq!(on_b["active"], true, "a token issued by A is active on B");
    assert_eq!(on_b["iss"], issuer);

    let revoked = http
        .post(format!("{node_b}/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let mut inactive_on_a = false;
    for _ in 0..40 {
        let on_a: Value = introspect(node_a).await.unwrap().json().await.unwrap();
        if on_a["active"] == false {
            inactive_on_a = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        inactive_on_a,
        "revoked through B, inactive on A within the 5 s cache lifetime"
    );

    let rotated = with_env(command(dir.path(), &["key", "rotate", "--alg", "ES256"]))
        .output()
        .unwrap();
    assert!(rotated.status.success());
    let listed = with_env(command(dir.path(), &["key", "list", "--json"]))
        .output()
        .unwrap();
    let next_kid = ok_json(&listed)
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .unwrap();
    let mut published = [false, false];
    for _ in 0..40 {
        for (i, (_, base)) in nodes.iter().enumerate() {
            let jwks: Value = http
                .get(format!("{base}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            published[i] = jwks.to_string().contains(&next_kid);
        }
        if published == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        published,
        [true, true],
        "a rotation reaches every node's JWKS within the key refresh"
    );
}

#[tokio::test]
async fn the_audit_trail_is_logged_and_queryable_and_neither_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let server = command(dir.path(), &["serve", "--listen", &listen])
        .env("LATCHKEY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    wait_until_up(&http, &base).await;

    let client = ok_json(&latchkey(
        dir.path(),
        &["client", "create", "--name", "Audited", "--json"],
    ));
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let token: Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let revoked = http
        .post(format!("{base}/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    // The server writes events in batches: ask until the revocation is there.
    let mut listed = String::new();
    for _ in 0..50 {
        listed = stdout(&latchkey(dir.path(), &["audit", "--client", id, "--json"]));
        if listed.contains("token.revoked") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kinds: Vec<String> = listed
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        ["token.revoked", "token.issued", "client.created"],
        "{listed}"
    );
    let issued = ok_json(&latchkey(
        dir.path(),
        &["audit", "--kind", "token.issued", "--json"],
    ));
    assert_eq!(issued["detail"]["grant_type"], "client_credentials");
    assert_eq!(issued["actor"], format!("client:{id}"));
    let table = stdout(&latchkey(dir.path(), &["audit", "--since", "1h"]));
    assert!(
        table.contains("client.created") && table.contains("cli"),
        "{table}"
    );
    assert_clean_failure(&latchkey(dir.path(), &["audit", "--kind", "token.stolen"]));
    assert_clean_failure(&latchkey(dir.path(), &["audit", "--since", "yesterday-ish"]));

    let mut server = Running(server);
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = server.0.stderr.take().unwrap();
    let log = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut log = String::new();
        stderr.read_to_string(&mut log).map(|_| log)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        log.contains("latchkey::audit") && log.contains("token.issued"),
        "{log}"
    );
    for secret in [access, secret] {
        assert!(!log.contains(secret), "the log holds a secret");
        assert!(!listed.contains(secret), "the audit trail holds a secret");
    }
}

#[test]
fn doctor_exits_non_zero_on_a_high_finding_and_explains_each() {
    let dir = tempfile::tempdir().unwrap();
    // The default: SQLite with a generated key file beside it (made by a first command), a
    // high finding.
    assert!(latchkey(dir.path(), &["scope", "list"]).status.success());
    let report = latchkey(dir.path(), &["doctor"]);
    let stderr = assert_clean_failure(&report);
    assert!(stderr.contains("1 high-severity finding"), "{stderr}");
    let text = stdout(&report);
    assert!(
        text.contains("HIGH    master-key-beside-database  setting:master_key"),
        "{text}"
    );
    assert!(text.contains("why: RFC 6819"), "{text}");
    assert!(text.contains("fix: set LATCHKEY_MASTER_KEY"), "{text}");

    // With the key from the environment and an https issuer the defaults are clean.
    let dir = tempfile::tempdir().unwrap();
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let output = command(
        dir.path(),
        &["doctor", "--json", "--issuer", "https://id.example.com"],
    )
    .env("LATCHKEY_MASTER_KEY", key)
    .output()
    .unwrap();
    assert_eq!(ok_json(&output), serde_json::json!([]), "the defaults are clean");
    let output = command(
        dir.path(),
        &[
            "doctor",
            "--json",
            "--issuer",
            "https://id.example.com",
            "--token-rate-limit",
            "0",
        ],
    )
    .env("LATCHKEY_MASTER_KEY", key)
    .output()
    .unwrap();
    assert_eq!(ok_json(&output)[0]["check"], "rate-limit-off", "medium: exit 0");
    let output = command(dir.path(), &["doctor", "--issuer", "http://id.example.com"])
        .env("LATCHKEY_MASTER_KEY", key)
        .output()
        .unwrap();
    assert_clean_failure(&output);
    assert!(stdout(&output).contains("issuer-not-https"));
}
