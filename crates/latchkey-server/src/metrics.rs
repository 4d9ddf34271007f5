//! Prometheus metrics: one recorder per process, a middleware that counts and times every
//! request, an audit observer that turns security events into counters, and gauges the
//! maintenance task samples.
//!
//! Labels carry only values from small, server-chosen sets: a route template (never the
//! raw URL), a method, a status, an event kind, a grant type, a limit name, a key's `kid`.
//! Never a client id, a subject, a token or a secret: a label is a new series forever, and
//! `/metrics` may be readable by more people than the audit trail.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::{Duration, Instant};

use ::metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use latchkey_core::audit::{AuditEvent, AuditKind, AuditObserver};
use latchkey_core::client::GrantType;
use latchkey_core::keys::key_states;
use latchkey_core::{Context, StoreError};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

const HTTP_REQUESTS: &str = "latchkey_http_requests_total";
const HTTP_DURATION: &str = "latchkey_http_request_duration_seconds";
const AUDIT_EVENTS: &str = "latchkey_audit_events_total";
const TOKENS_ISSUED: &str = "latchkey_tokens_issued_total";
const TOKENS_REVOKED: &str = "latchkey_tokens_revoked_total";
const REFRESH_REUSE: &str = "latchkey_refresh_reuse_detected_total";
const CODE_REPLAYS: &str = "latchkey_code_replays_total";
const LOGIN_FAILURES: &str = "latchkey_login_failures_total";
const RATE_LIMITED: &str = "latchkey_rate_limited_total";
const KEY_AGE: &str = "latchkey_signing_key_age_seconds";
const TOKEN_REQUESTS: &str = "latchkey_token_requests_total";
const POOL_CONNECTIONS: &str = "latchkey_store_pool_connections";
const POOL_MAX: &str = "latchkey_store_pool_max_connections";

/// The `endpoint` of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// Request latency buckets, in seconds: the hot endpoints answer in well under a
/// millisecond, a login (Argon2) in tens of milliseconds, a stalled database in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Store operation buckets, in seconds: a cached-statement read takes tens of
/// microseconds, a queued write hundreds, a database in trouble seconds.
const QUERY_BUCKETS: [f64; 14] = [
    0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// How often the maintenance task samples gauges and drains histogram buffers.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// A gauge not set for this long disappears, so a deleted key, or a key's previous state,
/// stops being reported a minute after the sampler last saw it.
const GAUGE_IDLE: Duration = Duration::from_secs(60);

/// The Prometheus text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. Tests start many servers in one process,
/// and they all share it.
pub(crate) fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(install)
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new().idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE));
    // Only an empty bucket list is refused, and ours is not empty: without buckets the
    // duration would be rendered as a summary, which cannot be aggregated across nodes.
    let builder = builder
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(latchkey_core::store::QUERY_DURATION_METRIC.to_owned()),
                &QUERY_BUCKETS,
            )
        })
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    match ::metrics::set_global_recorder(recorder) {
        Ok(()) => describe(),
        Err(error) => {
            tracing::warn!(%error, "another metrics recorder is installed; /metrics will be empty");
        }
    }
    handle
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        ::metrics::Unit::Seconds,
        "Time to the response head, by route template."
    );
    describe_counter!(AUDIT_EVENTS, "Audit events recorded, by kind.");
    describe_counter!(TOKENS_ISSUED, "Access tokens issued, by grant type.");
    describe_counter!(
        TOKENS_REVOKED,
        "Revocations: single tokens (RFC 7009) and whole grants."
    );
    describe_counter!(
        REFRESH_REUSE,
        "Rotated refresh tokens presented again after the grace window (their grant was revoked)."
    );
    describe_counter!(
        CODE_REPLAYS,
        "Authorization codes presented twice (their grant was revoked)."
    );
    describe_counter!(LOGIN_FAILURES, "Refused sign-ins.");
    describe_counter!(RATE_LIMITED, "Requests refused by an abuse limit, by limit.");
    describe_counter!(
        TOKEN_REQUESTS,
        "Token requests that reached their grant, by grant type and outcome (ok or the OAuth error code)."
    );
    describe_histogram!(
        latchkey_core::store::QUERY_DURATION_METRIC,
        ::metrics::Unit::Seconds,
        "Store operations by name (the store trait's method), including waiting for a connection."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections by pool, busy or idle (busy near the pool's maximum means saturation)."
    );
    describe_gauge!(POOL_MAX, "The most connections each database pool may open.");
    describe_gauge!(
        KEY_AGE,
        ::metrics::Unit::Seconds,
        "Age of each stored signing key, with its lifecycle state."
    );
}

/// Renders every metric in the Prometheus text format.
pub(crate) fn render() -> String {
    handle().render()
}

/// Counts and times a request under its route template.
///
/// The handles are cached per label set: the label values come from a small closed set
/// (route templates, methods, statuses), so after the first request of each kind this is
/// two map lookups without allocation instead of a registry lookup by formatted labels.
pub(crate) async fn track_requests(request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |path| intern(path.as_str()));
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    request_counter(endpoint, method, status).increment(1);
    duration_histogram(endpoint).record(elapsed);
    response
}

type CounterKey = (&'static str, &'static str, u16);

fn request_counter(endpoint: &'static str, method: &'static str, status: u16) -> Counter {
    static COUNTERS: LazyLock<RwLock<HashMap<CounterKey, Counter>>> = LazyLock::new(RwLock::default);
    let key = (endpoint, method, status);
    if let Some(counter) = COUNTERS.read().ok().and_then(|map| map.get(&key).cloned()) {
        return counter;
    }
    let counter = counter!(
        HTTP_REQUESTS,
        "endpoint" => endpoint,
        "method" => method,
        "status" => status.to_string(),
    );
    if let Ok(mut map) = COUNTERS.write() {
        map.insert(key, counter.clone());
    }
    counter
}

fn duration_histogram(endpoint: &'static str) -> Histogram {
    static HISTOGRAMS: LazyLock<RwLock<HashMap<&'static str, Histogram>>> = LazyLock::new(RwLock::default);
    if let Some(histogram) = HISTOGRAMS.read().ok().and_then(|map| map.get(endpoint).cloned()) {
        return histogram;
    }
    let histogram = histogram!(HTTP_DURATION, "endpoint" => endpoint);
    if let Ok(mut map) = HISTOGRAMS.write() {
        map.insert(endpoint, histogram.clone());
    }
    histogram
}

/// A route template as a `&'static str`. Templates are the router's own strings, a set as
/// small as the route table, so each is leaked once.
fn intern(template: &str) -> &'static str {
    static TEMPLATES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(RwLock::default);
    if let Some(found) = TEMPLATES.read().ok().and_then(|set| set.get(template).copied()) {
        return found;
    }
    let Ok(mut set) = TEMPLATES.write() else {
        return UNMATCHED;
    };
    if let Some(found) = set.get(template).copied() {
        return found;
    }
    let leaked: &'static str = Box::leak(template.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

/// Counts a token request that reached its grant, by grant type and outcome (`ok` or the
/// RFC 6749 error code: `authorization_pending` and `slow_down` are how device polling
/// looks, `invalid_grant` is worth an alert).
pub(crate) fn token_request(grant_type: GrantType, error: Option<&latchkey_core::OAuthError>) {
    counter!(
        TOKEN_REQUESTS,
        "grant_type" => grant_type.as_str(),
        "outcome" => error.map_or("ok", latchkey_core::OAuthError::code),
    )
    .increment(1);
}

/// Counts a request refused by an abuse limit enforced in the HTTP layer.
pub(crate) fn rate_limited(limit: &'static str) {
    cached_counter(RATE_LIMITED, "limit", limit).increment(1);
}

/// The method, or "other" for extension methods a client may invent.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Turns audit events into counters.
#[derive(Debug, Default)]
pub(crate) struct AuditMetrics;

impl AuditObserver for AuditMetrics {
    fn observe(&self, event: &AuditEvent) {
        cached_counter(AUDIT_EVENTS, "kind", event.kind.as_str()).increment(1);
        match event.kind {
            AuditKind::TokenIssued => {
                cached_counter(TOKENS_ISSUED, "grant_type", grant_type_label(event)).increment(1);
            }
            AuditKind::TokenRevoked | AuditKind::GrantRevoked => counter!(TOKENS_REVOKED).increment(1),
            AuditKind::RefreshReuseDetected => counter!(REFRESH_REUSE).increment(1),
            AuditKind::CodeReplayed => counter!(CODE_REPLAYS).increment(1),
            AuditKind::LoginFailed => counter!(LOGIN_FAILURES).increment(1),
            AuditKind::RateLimited => counter!(RATE_LIMITED, "limit" => limit_label(event)).increment(1),
            _ => {}
        }
    }
}

/// A counter with one label from a closed set, its handle cached (token issuance is on
/// the hottest path).
fn cached_counter(name: &'static str, label: &'static str, value: &'static str) -> Counter {
    type Key = (&'static str, &'static str);
    static COUNTERS: LazyLock<RwLock<HashMap<Key, Counter>>> = LazyLock::new(RwLock::default);
    let key = (name, value);
    if let Some(counter) = COUNTERS.read().ok().and_then(|map| map.get(&key).cloned()) {
        return counter;
    }
    let counter = counter!(name, label => value);
    if let Ok(mut map) = COUNTERS.write() {
        map.insert(key, counter.clone());
    }
    counter
}

/// The event's grant type if it is one we know, so the label set stays closed.
fn grant_type_label(event: &AuditEvent) -> &'static str {
    let named = event.detail.get("grant_type").and_then(|value| value.as_str());
    GrantType::ALL
        .iter()
        .map(|grant| grant.as_str())
        .find(|known| Some(*known) == named)
        .unwrap_or("other")
}

/// The limit's name if it looks like one of ours (a short identifier), else "other".
fn limit_label(event: &AuditEvent) -> String {
    let named = event.detail.get("limit").and_then(|value| value.as_str());
    match named {
        Some(name)
            if !name.is_empty()
                && name.len() <= 48
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            name.to_owned()
        }
        _ => "other".to_owned(),
    }
}

/// Samples the gauges and drains histogram buffers; the maintenance task calls this every
/// [`SAMPLE_EVERY`].
pub(crate) async fn sample(context: &Context) -> Result<(), StoreError> {
    handle().run_upkeep();
    let keys = context.keys.stored_keys();
    let now = context.now();
    let states = key_states(&keys, now, context.config.rotation_policy().retention);
    for (key, state) in keys.iter().zip(states) {
        let age = now.as_secs().saturating_sub(key.created_at.as_secs()).max(0);
        gauge!(
            KEY_AGE,
            "kid" => key.kid.to_string(),
            "alg" => key.alg.as_str(),
            "state" => state.to_string(),
        )
        .set(age as f64);
    }
    for pool in context.store.pool_status() {
        let busy = pool.open.saturating_sub(pool.idle);
        gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "busy").set(f64::from(busy));
        gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "idle").set(f64::from(pool.idle));
        gauge!(POOL_MAX, "pool" => pool.name).set(f64::from(pool.max));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use latchkey_core::Timestamp;
    use latchkey_core::audit::Actor;

    use super::*;

    /// The value of the series whose line starts with `series` (name and labels, exactly
    /// as rendered), or 0.
    fn value(series: &str) -> f64 {
        render()
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn event(kind: AuditKind) -> AuditEvent {
        AuditEvent::new(kind, Timestamp::from_secs(1), &Actor::System)
    }

    #[test]
    fn audit_events_move_their_counters() {
        handle();
        let issued = r#"latchkey_tokens_issued_total{grant_type="client_credentials"}"#;
        let other = r#"latchkey_tokens_issued_total{grant_type="other"}"#;
        let limited = r#"latchkey_rate_limited_total{limit="device_user_code"}"#;
        let odd_limit = r#"latchkey_rate_limited_total{limit="other"}"#;
        let kind = r#"latchkey_audit_events_total{kind="token.issued"}"#;
        let before = [
            value(issued),
            value(other),
            value(limited),
            value(odd_limit),
            value(kind),
            value("latchkey_tokens_revoked_total"),
            value("latchkey_login_failures_total"),
        ];
        let observer = AuditMetrics;
        observer.observe(&event(AuditKind::TokenIssued).with("grant_type", "client_credentials"));
        observer.observe(&event(AuditKind::TokenIssued).with("grant_type", "eyJhbGciOi.secret"));
        observer.observe(&event(AuditKind::RateLimited).with("limit", "device_user_code"));
        observer.observe(&event(AuditKind::RateLimited).with("limit", "Robert'); DROP TABLE"));
        observer.observe(&event(AuditKind::TokenRevoked));
        observer.observe(&event(AuditKind::GrantRevoked));
        observer.observe(&event(AuditKind::LoginFailed));
        let after = [
            value(issued),
            value(other),
            value(limited),
            value(odd_limit),
            value(kind),
            value("latchkey_tokens_revoked_total"),
            value("latchkey_login_failures_total"),
        ];
        // Other tests in this binary may count too, so each moved by at least this much.
        let moved = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 1.0];
        for ((before, after), moved) in before.iter().zip(after).zip(moved) {
            assert!(after - before >= moved, "{before} → {after}");
        }
        assert!(!render().contains("secret"));
    }

    #[test]
    fn installing_twice_shares_one_recorder() {
        let first: *const PrometheusHandle = handle();
        let second: *const PrometheusHandle = handle();
        assert_eq!(first, second);
        assert!(
            install().render().is_empty(),
            "a second recorder stays uninstalled"
        );
    }
}
