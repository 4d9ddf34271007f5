//! Load generator for Latchkey's browser flows (`bench/run` drives it).
//!
//! Once, it logs in and allows the consent the way a browser does. Then, per scenario, N
//! workers, each on its own keep-alive connection, loop for a warm-up and a fixed measured
//! window:
//!
//! - `code_flow`: `GET /oauth2/authorize` with the session cookie (303 to the client with a
//!   code), then `POST /oauth2/token` with the code, the PKCE verifier and Basic auth
//!   (200 with an access and a refresh token). One operation is the whole round trip.
//! - `refresh`: `POST /oauth2/token` with `grant_type=refresh_token`; each worker starts
//!   from a refresh token of its own (from one code round trip) and always presents the
//!   one its previous response rotated to.
//!
//! Per scenario it prints one line for scripts:
//! `BENCH-RESULT name=... ops=... rps=... p50_us=... p99_us=... errors=...`, where `ops`
//! and `rps` count successful operations completed in the window and latencies are theirs.

mod browser;
mod flow;
mod http;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use hyper::header::HeaderValue;
use tokio::time::Instant;

use crate::flow::{Flow, Pkce};
use crate::http::{Connection, Failure, Target};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Load generator for Latchkey's authorization-code and refresh flows"
)]
struct Args {
    /// Latchkey's base URL (plain http).
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    base_url: String,
    /// The client's id (a confidential client with authorization_code and refresh_token).
    #[arg(long)]
    client_id: String,
    /// The client's secret.
    #[arg(long, env = "LATCHKEY_BENCH_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// The user who logs in once.
    #[arg(long, default_value = "bench")]
    username: String,
    /// That user's password.
    #[arg(long, env = "LATCHKEY_BENCH_PASSWORD", hide_env_values = true)]
    password: String,
    /// A redirect URI registered for the client.
    #[arg(long, default_value = "https://app.example.com/cb")]
    redirect_uri: String,
    /// The scope to request.
    #[arg(long, default_value = "notes:read")]
    scope: String,
    /// Concurrent workers, each with one keep-alive connection.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Measured time per scenario (`10s`, `500ms`, `1m`, `1h`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up per scenario, by the same workers just before the window.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Scenario to run (repeat); all of them, in this order, if none is named.
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Authorize (303 with a code) + code exchange.
    #[value(name = "code_flow")]
    CodeFlow,
    /// Refresh grant with rotation.
    #[value(name = "refresh")]
    Refresh,
}

impl Scenario {
    const fn name(self) -> &'static str {
        match self {
            Self::CodeFlow => "code_flow",
            Self::Refresh => "refresh",
        }
    }
}

/// `10s`, `500ms`, `2m`, `1h`, or a bare number of seconds (wrk's `-d` forms).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit): (&str, fn(u64) -> Duration) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, Duration::from_secs)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, |m| Duration::from_secs(m.saturating_mul(60)))
    } else if let Some(n) = text.strip_suffix('h') {
        (n, |h| Duration::from_secs(h.saturating_mul(3600)))
    } else {
        (text, Duration::from_secs)
    };
    number
        .trim()
        .parse()
        .map(unit)
        .map_err(|_| format!("not a duration: {text:?} (use 10s, 500ms, 1m or 1h)"))
}

/// What every worker shares.
struct Shared {
    flow: Flow,
    target: Target,
    /// `Cookie: latchkey_session=...`.
    session: HeaderValue,
}

/// The measured window: operations completing in `[start, end)` count.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// One worker's connection and state.
struct Worker {
    id: usize,
    conn: Connection,
    pkce: Pkce,
    /// Operations started, for unique `state` values.
    started: u64,
    /// The refresh token to present next (refresh scenario).
    refresh_token: Option<String>,
}

/// One worker's counts in the window.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of each successful operation, microseconds.
    latencies_us: Vec<u64>,
    http_errors: u64,
    socket_errors: u64,
    /// HTTP requests sent by operations that completed in the window.
    requests: u64,
    /// The first failure, for the log.
    first_failure: Option<String>,
}

impl Worker {
    fn new(id: usize, target: Target) -> Self {
        Self {
            id,
            conn: Connection::new(target),
            pkce: Pkce::for_worker(id),
            started: 0,
            refresh_token: None,
        }
    }

    async fn code_round_trip(&mut self, shared: &Shared) -> Result<String, Failure> {
        self.started += 1;
        let state = format!("w{}-{}", self.id, self.started);
        shared
            .flow
            .code_round_trip(&mut self.conn, &shared.session, &self.pkce, &state)
            .await
    }

    /// One refresh, chaining from the previous one. After a refused refresh the worker
    /// starts a new chain with a code round trip (inside the next operation). After a
    /// transport error it keeps its token: if the server did rotate it, presenting it again
    /// within the grace window gets a sibling rather than revoking the family.
    async fn refresh(&mut self, shared: &Shared) -> Result<(), Failure> {
        let current = match self.refresh_token.take() {
            Some(token) => token,
            None => self.code_round_trip(shared).await?,
        };
        match shared.flow.refresh(&mut self.conn, &current).await {
            Ok(next) => {
                self.refresh_token = Some(next);
                Ok(())
            }
            Err(failure) => {
                if matches!(failure, Failure::Transport(_)) {
                    self.refresh_token = Some(current);
                }
                Err(failure)
            }
        }
    }

    async fn run(mut self, scenario: Scenario, shared: Arc<Shared>, window: Window) -> Tally {
        let mut tally = Tally {
            latencies_us: Vec::with_capacity(8192),
            ..Tally::default()
        };
        loop {
            let sent_before = self.conn.sent;
            let start = Instant::now();
            let outcome = match scenario {
                Scenario::CodeFlow => self.code_round_trip(&shared).await.map(drop),
                Scenario::Refresh => self.refresh(&shared).await,
            };
            let end = Instant::now();
            if end >= window.end {
                break;
            }
            let transport_failed = matches!(outcome, Err(Failure::Transport(_)));
            if end >= window.start {
                tally.requests += self.conn.sent - sent_before;
                match outcome {
                    Ok(()) => tally
                        .latencies_us
                        .push(u64::try_from((end - start).as_micros()).unwrap_or(u64::MAX)),
                    Err(failure) => {
                        match failure {
                            Failure::Transport(_) => tally.socket_errors += 1,
                            Failure::Status(_) | Failure::Protocol(_) => tally.http_errors += 1,
                        }
                        tally.first_failure.get_or_insert_with(|| failure.to_string());
                    }
                }
            }
            if transport_failed {
                // Do not spin on a server that is gone.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        tally
    }
}

/// The merged result of one scenario.
struct Summary {
    ops: u64,
    requests: u64,
    http_errors: u64,
    socket_errors: u64,
    /// Sorted.
    latencies_us: Vec<u64>,
}

impl Summary {
    /// The `permille`/1000 quantile (nearest rank), 0 without samples.
    fn quantile(&self, permille: usize) -> u64 {
        let n = self.latencies_us.len();
        let rank = (n * permille).div_ceil(1000).max(1);
        self.latencies_us.get(rank - 1).copied().unwrap_or(0)
    }
}

async fn run_scenario(
    scenario: Scenario,
    shared: &Arc<Shared>,
    workers: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Summary> {
    // Set-up, unmeasured: connect, and for the refresh scenario one code round trip each.
    let mut setups = tokio::task::JoinSet::new();
    for id in 0..workers {
        let shared = Arc::clone(shared);
        setups.spawn(async move {
            let mut worker = Worker::new(id, shared.target.clone());
            if scenario == Scenario::Refresh {
                let token = worker
                    .code_round_trip(&shared)
                    .await
                    .with_context(|| format!("worker {id}: the first refresh token"))?;
                worker.refresh_token = Some(token);
            }
            anyhow::Ok(worker)
        });
    }
    let mut ready = Vec::with_capacity(workers);
    while let Some(worker) = setups.join_next().await {
        ready.push(worker??);
    }

    let start = Instant::now() + warmup;
    let window = Window {
        start,
        end: start + duration,
    };
    let mut runs = tokio::task::JoinSet::new();
    for worker in ready {
        runs.spawn(worker.run(scenario, Arc::clone(shared), window));
    }
    let mut summary = Summary {
        ops: 0,
        requests: 0,
        http_errors: 0,
        socket_errors: 0,
        latencies_us: Vec::new(),
    };
    let mut failures = Vec::new();
    while let Some(tally) = runs.join_next().await {
        let tally = tally?;
        summary.ops += u64::try_from(tally.latencies_us.len())?;
        summary.requests += tally.requests;
        summary.http_errors += tally.http_errors;
        summary.socket_errors += tally.socket_errors;
        summary.latencies_us.extend(tally.latencies_us);
        failures.extend(tally.first_failure);
    }
    summary.latencies_us.sort_unstable();
    failures.sort();
    failures.dedup();
    for failure in failures.iter().take(5) {
        eprintln!("{}: a failure: {failure}", scenario.name());
    }
    Ok(summary)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.workers == 0 || args.duration.is_zero() {
        bail!("--workers and --duration must be positive");
    }
    let scenarios = if args.scenarios.is_empty() {
        vec![Scenario::CodeFlow, Scenario::Refresh]
    } else {
        args.scenarios.clone()
    };

    let base = url::Url::parse(&args.base_url).with_context(|| format!("--base-url {}", args.base_url))?;
    if base.scheme() != "http" {
        bail!("--base-url must be plain http: this client has no TLS");
    }
    let host = base.host_str().context("--base-url has no host")?;
    let port = base.port_or_known_default().context("--base-url has no port")?;
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .with_context(|| format!("{host} does not resolve"))?;
    let target = Target {
        addr,
        host: HeaderValue::from_str(&format!("{host}:{port}"))?,
    };

    let flow = Flow::new(
        args.client_id.clone(),
        &args.client_secret,
        args.redirect_uri.clone(),
        args.scope.clone(),
    )?;
    let session = flow
        .bootstrap(target.clone(), &args.username, &args.password)
        .await
        .context("bootstrap (login and consent)")?;
    eprintln!(
        "bootstrap: logged in as {}; consent to {} for client {} in place",
        args.username, args.scope, args.client_id
    );
    let shared = Arc::new(Shared {
        flow,
        target,
        session,
    });

    for scenario in scenarios {
        eprintln!(
            "{}: {} workers, {:?} warm-up, {:?} measured",
            scenario.name(),
            args.workers,
            args.warmup,
            args.duration
        );
        let summary = run_scenario(scenario, &shared, args.workers, args.warmup, args.duration).await?;
        let seconds = args.duration.as_secs_f64();
        let (rps, request_rps) = (summary.ops as f64 / seconds, summary.requests as f64 / seconds);
        println!(
            "BENCH-RESULT name={} workers={} duration_us={} ops={} rps={rps:.2} requests={} request_rps={request_rps:.2} \
             p50_us={} p99_us={} max_us={} errors={} http_errors={} socket_errors={}",
            scenario.name(),
            args.workers,
            args.duration.as_micros(),
            summary.ops,
            summary.requests,
            summary.quantile(500),
            summary.quantile(990),
            summary.latencies_us.last().copied().unwrap_or(0),
            summary.http_errors + summary.socket_errors,
            summary.http_errors,
            summary.socket_errors,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_wrk_forms() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let summary = Summary {
            ops: 100,
            requests: 100,
            http_errors: 0,
            socket_errors: 0,
            latencies_us: (1..=100).collect(),
        };
        assert_eq!(summary.quantile(500), 50);
        assert_eq!(summary.quantile(990), 99);
        let empty = Summary {
            latencies_us: Vec::new(),
            ..summary
        };
        assert_eq!(empty.quantile(990), 0);
    }
}
