//! Abuse limits, kept in memory on each node: a token bucket per key (a client at the token
//! endpoint, an address at the login form) and a back-off per account after failed logins.
//!
//! Each node keeps its own counters, so with N nodes behind a load balancer the budget is
//! N times the configured one (documented in the README); that keeps the limits off the
//! database, which every request would otherwise write to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before the idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// A token bucket per key: `rate` requests per second on average, bursts of `burst`.
#[derive(Debug)]
pub struct Buckets {
    rate: f64,
    burst: f64,
    entries: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Buckets {
    /// A limiter; a `rate` of zero lets everything through.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            entries: Mutex::default(),
        }
    }

    /// Whether the limiter is on.
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Takes one token for `key`: `Ok` to go ahead, or how long to wait.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(());
        };
        if entries.len() >= SWEEP_AT && !entries.contains_key(key) {
            let full_after = Duration::from_secs_f64(self.burst / self.rate);
            entries.retain(|_, (_, at)| now.duration_since(*at) < full_after);
        }
        let (tokens, at) = entries.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// Failed logins per account: after `free` failures in a row, each attempt must wait
/// twice as long as the last (1 s, 2 s, 4 s ...) up to `cap`, so a guesser is slowed to a
/// crawl while the real user, who succeeds once the wait is over, is never locked out for
/// longer than `cap`. A success forgets the account.
#[derive(Debug)]
pub struct Backoff {
    free: u32,
    cap: Duration,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Backoff {
    /// A back-off after `free` failures, waits capped at `cap`.
    pub fn new(free: u32, cap: Duration) -> Self {
        Self {
            free,
            cap,
            entries: Mutex::default(),
        }
    }

    /// `Ok` if `key` may try now, else how long it must still wait.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Ok(entries) = self.entries.lock() else {
            return Ok(());
        };
        match entries.get(key) {
            Some((failures, last)) if *failures >= self.free => {
                let wait = self.wait(*failures);
                let waited = now.duration_since(*last);
                if waited < wait { Err(wait - waited) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    fn wait(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.cap)
    }

    /// Counts a failure for `key`.
    pub fn failed(&self, key: &str) {
        self.failed_at(key, Instant::now());
    }

    fn failed_at(&self, key: &str, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= SWEEP_AT && !entries.contains_key(key) {
            let cap = self.cap;
            entries.retain(|_, (_, last)| now.duration_since(*last) < cap * 2);
        }
        let entry = entries.entry(key.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    /// Forgets `key` (a successful login).
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

/// The limits a node enforces.
#[derive(Debug)]
pub struct Limits {
    /// Token requests per client.
    pub token: Buckets,
    /// Login attempts per client address.
    pub login_address: Buckets,
    /// Failed logins per account.
    pub login_account: Backoff,
}

impl Limits {
    /// Limits from the settings (a rate of zero turns that limit off).
    pub fn new(token_per_second: u32, login_per_minute: u32) -> Self {
        let token = f64::from(token_per_second);
        let login = f64::from(login_per_minute);
        Self {
            token: Buckets::new(token, token * 2.0),
            login_address: Buckets::new(login / 60.0, login),
            login_account: Backoff::new(5, Duration::from_secs(300)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let buckets = Buckets::new(2.0, 3.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(buckets.take_at("c", start).is_ok());
        }
        let wait = buckets.take_at("c", start).unwrap_err();
        assert!(wait <= Duration::from_millis(500) && wait > Duration::ZERO);
        assert!(buckets.take_at("other", start).is_ok(), "per key");
        assert!(
            buckets.take_at("c", start + Duration::from_millis(500)).is_ok(),
            "refilled at the rate"
        );
        assert!(Buckets::new(0.0, 0.0).take_at("c", start).is_ok(), "zero is off");
    }

    #[test]
    fn failed_logins_back_off_exponentially_up_to_the_cap_and_success_forgets() {
        let backoff = Backoff::new(2, Duration::from_secs(8));
        let start = Instant::now();
        backoff.failed_at("eve", start);
        backoff.failed_at("eve", start);
        assert_eq!(backoff.check_at("eve", start), Err(Duration::from_secs(1)));
        assert!(backoff.check_at("eve", start + Duration::from_secs(1)).is_ok());
        for _ in 0..10 {
            backoff.failed_at("eve", start);
        }
        assert_eq!(
            backoff.check_at("eve", start),
            Err(Duration::from_secs(8)),
            "capped"
        );
        assert!(backoff.check_at("bob", start).is_ok(), "per account");
        backoff.succeeded("eve");
        assert!(backoff.check_at("eve", start).is_ok());
    }
}
