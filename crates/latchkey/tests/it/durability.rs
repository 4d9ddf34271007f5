//! Surviving a crash (issue #8, RFC 6749 §10.5): a `latchkey serve` process under mixed
//! load (client credentials and refresh-token chains) is killed with SIGKILL, restarted on
//! the same database, and everything it answered still holds: every access token it
//! issued introspects as active, the last refresh token of each chain works once more
//! and then never again, and every refresh token it had rotated stays spent. On SQLite
//! and on PostgreSQL.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Backend, Browser, Registered, TestServer};

const PASSWORD: &str = "correct horse battery staple";
const CHAINS: usize = 6;
const GRACE_SECS: u64 = 3;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(database_url: &str, master: &str, port: u16, issuer: &str) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for (name, _) in std::env::vars() {
        if name.starts_with("LATCHKEY_") {
            command.env_remove(name);
        }
    }
    let child = command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            issuer,
        ])
        .args([
            "--refresh-grace",
            &format!("{GRACE_SECS}s"),
            "--token-rate-limit",
            "0",
        ])
        .env("LATCHKEY_DATABASE_URL", database_url)
        .env("LATCHKEY_MASTER_KEY", master)
        .env("LATCHKEY_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

async fn wait_until_up(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up at {base}");
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    client: &Registered,
    form: &[(&str, &str)],
) -> Option<Value> {
    let response = http
        .post(format!("{base}{path}"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(form)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.json().await.ok()
}

async fn crash_and_check(backend: Backend) {
    // Set up through an in-process server: a user, grants with refresh tokens, a service.
    let setup = TestServer::start_on(backend).await;
    setup.user("tess", PASSWORD).await;
    let web = setup.web_client(&["openid"]).await;
    let service = setup.service_client(&["notes:read"]).await;
    let url = setup.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
        web.id
    ));
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let code = Browser::new().approve(&setup, &url, ("tess", PASSWORD)).await["code"].clone();
        let tokens = post(
            &setup.http,
            &setup.base,
            "/oauth2/token",
            &web,
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
        .unwrap();
        chains.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let database = setup.database();
    let master = setup.master().to_base64();
    setup.stop().await;

    // The process under load.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = serve(&database.url, &master, port, &base);
    wait_until_up(&http, &base).await;
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    // For each chain: every token it was answered with, in order.
    let answered: Arc<Mutex<Vec<Vec<String>>>> =
        Arc::new(Mutex::new(chains.iter().map(|t| vec![t.clone()]).collect()));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (http, base, service, issued) =
            (http.clone(), base.clone(), service.clone(), Arc::clone(&issued));
        load.spawn(async move {
            loop {
                if let Some(body) = post(
                    &http,
                    &base,
                    "/oauth2/token",
                    &service,
                    &[("grant_type", "client_credentials")],
                )
                .await
                {
                    issued
                        .lock()
                        .unwrap()
                        .push(body["access_token"].as_str().unwrap().to_owned());
                }
            }
        });
    }
    for chain in 0..CHAINS {
        let (http, base, web, answered) = (http.clone(), base.clone(), web.clone(), Arc::clone(&answered));
        load.spawn(async move {
            loop {
                let current = answered.lock().unwrap()[chain].last().unwrap().clone();
                if let Some(body) = post(
                    &http,
                    &base,
                    "/oauth2/token",
                    &web,
                    &[("grant_type", "refresh_token"), ("refresh_token", &current)],
                )
                .await
                {
                    answered.lock().unwrap()[chain].push(body["refresh_token"].as_str().unwrap().to_owned());
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.0.kill().unwrap(); // SIGKILL, mid-load
    server.0.wait().unwrap();
    load.abort_all();
    while load.join_next().await.is_some() {}

    // Restart on the same database.
    let server = serve(&database.url, &master, port, &base);
    wait_until_up(&http, &base).await;
    let issued = issued.lock().unwrap().clone();
    let answered = answered.lock().unwrap().clone();
    assert!(issued.len() > 50, "the load ran: {} tokens", issued.len());
    assert!(
        answered.iter().all(|chain| chain.len() > 3),
        "every chain rotated"
    );

    // Every access token answered with 200 is still good.
    for token in issued.iter().step_by(issued.len() / 50 + 1).chain(issued.last()) {
        let active = post(&http, &base, "/oauth2/introspect", &service, &[("token", token)])
            .await
            .unwrap();
        assert_eq!(active["active"], true, "an issued token survived the crash");
    }
    // The last refresh token of each chain works once more (a rotation that committed but
    // never got its answer out falls inside the grace window), then never again; every
    // earlier one was spent before the crash and stays spent.
    for chain in &answered {
        let last = chain.last().unwrap();
        let again = post(
            &http,
            &base,
            "/oauth2/token",
            &web,
            &[("grant_type", "refresh_token"), ("refresh_token", last)],
        )
        .await;
        assert!(again.is_some(), "the last answered refresh token still works");
    }
    tokio::time::sleep(Duration::from_secs(GRACE_SECS + 1)).await;
    for chain in &answered {
        for spent in chain {
            let reused = post(
                &http,
                &base,
                "/oauth2/token",
                &web,
                &[("grant_type", "refresh_token"), ("refresh_token", spent)],
            )
            .await;
            assert!(reused.is_none(), "a refresh token is never good twice");
        }
    }
    drop(server);
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_sqlite_server_keeps_every_answer_it_gave() {
    crash_and_check(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_postgres_server_keeps_every_answer_it_gave() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
        return;
    };
    crash_and_check(backend).await;
}
