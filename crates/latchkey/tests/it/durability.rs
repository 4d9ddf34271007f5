//! Surviving a crash (issue #8, RFC 6749 §10.5): a `latchkey serve` process under mixed
//! load (client credentials, code-flow round trips, refresh-token chains and device
//! polling) is killed with SIGKILL, restarted on the same database, and everything it
//! answered still holds: every access token it issued introspects as active, no code or
//! device code it redeemed is good again, the last refresh token of each chain works once
//! more and then never again, and every refresh token it had rotated stays spent. On
//! SQLite and on PostgreSQL. `bench/crash` runs the same test against a release build.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Backend, Browser, Process, Registered, TestServer, free_port, redirect_params, serve, wait_until_up,
};

const PASSWORD: &str = "correct horse battery staple";
const CHAINS: usize = 6;
const GRACE_SECS: u64 = 3;
const DEVICES: usize = 4;
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn serve_with_grace(database_url: &str, master: &str, port: u16) -> Process {
    let grace = format!("{GRACE_SECS}s");
    serve(
        database_url,
        port,
        &["--refresh-grace", &grace, "--token-rate-limit", "0"],
        &[("LATCHKEY_MASTER_KEY", master)],
    )
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

/// Spawns `workers` tasks that run `step` forever (until aborted).
fn keep_running<F, Fut>(load: &mut tokio::task::JoinSet<()>, workers: usize, step: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let step = Arc::new(step);
    for worker in 0..workers {
        let step = Arc::clone(&step);
        load.spawn(async move {
            loop {
                step(worker).await;
            }
        });
    }
}

async fn crash_and_check(backend: Backend) {
    // Set up through an in-process server: a user signed in with consent given, grants
    // with refresh tokens, approved and pending device codes, a service.
    let setup = TestServer::start_on(backend).await;
    setup.user("tess", PASSWORD).await;
    let web = setup.web_client(&["openid"]).await;
    let service = setup.service_client(&["notes:read"]).await;
    let tv = crate::device::tv_client(&setup).await;
    let browser = Arc::new(Browser::new());
    let url = setup.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid",
        web.id
    ));
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let code = browser.approve(&setup, &url, ("tess", PASSWORD)).await["code"].clone();
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
    let mut device_codes = Vec::new();
    for n in 0..DEVICES {
        let started = crate::device::start(&setup, &tv).await;
        if n % 2 == 0 {
            let link = started["verification_uri_complete"].as_str().unwrap();
            crate::device::approve(&setup, &browser, link, "allow").await;
        }
        device_codes.push(started["device_code"].as_str().unwrap().to_owned());
    }
    let database = setup.database();
    let master = setup.master().to_base64();
    setup.stop().await;

    // The process under load: client credentials, code-flow round trips (the browser's
    // session and consent carry over), refresh chains and device polling.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = serve_with_grace(&database.url, &master, port);
    wait_until_up(&http, &base).await;
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let redeemed_codes = Arc::new(Mutex::new(Vec::<String>::new()));
    let redeemed_devices = Arc::new(Mutex::new(Vec::<String>::new()));
    // For each chain: every token it was answered with, in order.
    let answered: Arc<Mutex<Vec<Vec<String>>>> =
        Arc::new(Mutex::new(chains.iter().map(|t| vec![t.clone()]).collect()));
    let mut load = tokio::task::JoinSet::new();
    {
        let (http, base, service, issued) =
            (http.clone(), base.clone(), service.clone(), Arc::clone(&issued));
        keep_running(&mut load, 2, move |_| {
            let (http, base, service, issued) =
                (http.clone(), base.clone(), service.clone(), Arc::clone(&issued));
            async move {
                let form = [("grant_type", "client_credentials")];
                if let Some(body) = post(&http, &base, "/oauth2/token", &service, &form).await {
                    issued
                        .lock()
                        .unwrap()
                        .push(body["access_token"].as_str().unwrap().to_owned());
                }
            }
        });
    }
    {
        let (http, base, web, issued, codes, browser) = (
            http.clone(),
            base.clone(),
            web.clone(),
            Arc::clone(&issued),
            Arc::clone(&redeemed_codes),
            Arc::clone(&browser),
        );
        let authorize = format!(
            "{base}/oauth2/authorize?response_type=code&client_id={}&scope=openid",
            web.id
        );
        keep_running(&mut load, 2, move |_| {
            let (http, base, web, issued, codes, browser, authorize) = (
                http.clone(),
                base.clone(),
                web.clone(),
                Arc::clone(&issued),
                Arc::clone(&codes),
                Arc::clone(&browser),
                authorize.clone(),
            );
            async move {
                let Some(location) = browser.try_get(&authorize).await.and_then(|page| page.location())
                else {
                    return;
                };
                let Some(code) = redirect_params(&location).get("code").cloned() else {
                    return;
                };
                let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
                if let Some(body) = post(&http, &base, "/oauth2/token", &web, &form).await {
                    issued
                        .lock()
                        .unwrap()
                        .push(body["access_token"].as_str().unwrap().to_owned());
                    codes.lock().unwrap().push(code);
                }
            }
        });
    }
    {
        let (http, base, tv, issued, devices, device_codes) = (
            http.clone(),
            base.clone(),
            tv.clone(),
            Arc::clone(&issued),
            Arc::clone(&redeemed_devices),
            Arc::new(device_codes.clone()),
        );
        keep_running(&mut load, DEVICES, move |worker| {
            let (http, base, tv, issued, devices) = (
                http.clone(),
                base.clone(),
                tv.clone(),
                Arc::clone(&issued),
                Arc::clone(&devices),
            );
            let device_code = device_codes[worker].clone();
            async move {
                let form = [
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &device_code),
                    ("client_id", &tv.id),
                ];
                let answer = http.post(format!("{base}/oauth2/token")).form(&form).send().await;
                if let Ok(answer) = answer {
                    if answer.status() == 200 {
                        if let Ok(body) = answer.json::<Value>().await {
                            issued
                                .lock()
                                .unwrap()
                                .push(body["access_token"].as_str().unwrap().to_owned());
                            devices.lock().unwrap().push(device_code);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
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
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    server.0.kill().unwrap(); // SIGKILL, mid-load
    server.0.wait().unwrap();
    load.abort_all();
    while load.join_next().await.is_some() {}

    // Restart on the same database.
    let server = serve_with_grace(&database.url, &master, port);
    wait_until_up(&http, &base).await;
    let issued = issued.lock().unwrap().clone();
    let answered = answered.lock().unwrap().clone();
    let redeemed_codes = redeemed_codes.lock().unwrap().clone();
    let redeemed_devices = redeemed_devices.lock().unwrap().clone();
    eprintln!(
        "crash: answered before the SIGKILL: {} access tokens, {} code redemptions, {} device redemptions, {} refresh rotations",
        issued.len(),
        redeemed_codes.len(),
        redeemed_devices.len(),
        answered.iter().map(|chain| chain.len() - 1).sum::<usize>()
    );
    assert!(issued.len() > 50, "the load ran: {} tokens", issued.len());
    assert!(
        redeemed_codes.len() > 3,
        "code flows ran: {}",
        redeemed_codes.len()
    );
    assert_eq!(
        redeemed_devices.len(),
        DEVICES.div_ceil(2),
        "each approved device got its tokens once"
    );
    assert!(
        answered.iter().all(|chain| chain.len() > 3),
        "every chain rotated"
    );

    // Every access token answered with 200 is still good (sampled, plus the last ones).
    let recent = issued.len().saturating_sub(20);
    for token in issued
        .iter()
        .step_by(issued.len() / 50 + 1)
        .chain(&issued[recent..])
    {
        let active = post(&http, &base, "/oauth2/introspect", &service, &[("token", token)])
            .await
            .unwrap();
        assert_eq!(active["active"], true, "an issued token survived the crash");
    }
    // No code or device code answered before the crash is good again after it.
    for code in &redeemed_codes {
        let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
        assert!(
            post(&http, &base, "/oauth2/token", &web, &form).await.is_none(),
            "a code is single-use across the crash"
        );
    }
    for device_code in &redeemed_devices {
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code.as_str()),
            ("client_id", tv.id.as_str()),
        ];
        let again = http
            .post(format!("{base}/oauth2/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.status(),
            400,
            "a device code is single-use across the crash"
        );
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
