//! When to fetch the JWKS again.
//!
//! Two reasons, each bounded so that no stream of requests can turn into a stream of
//! fetches against the authorization server:
//!
//! - A token names a `kid` we do not hold: the issuer may have rotated. One refetch per
//!   `refetch_interval` (30 s by default), whatever the number of such tokens; meanwhile
//!   they are refused at the cost of a hash lookup. Concurrent requests wait for the one
//!   fetch in flight and then use its result.
//! - The set is older than `max_age` (5 min by default): keys the issuer has withdrawn, a
//!   retired or compromised one, must stop verifying. The request that notices refreshes;
//!   others keep using the current set meanwhile. A failed refresh keeps the old set and
//!   is retried after `refetch_interval`.
//!
//! Every fetch starts a new generation of the set, which is how the verified-token cache
//! knows to forget what older keys vouched for.

use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Mutex;

use super::{KeySet, VerificationKey};
use crate::discovery::Source;
use crate::error::TokenError;

#[derive(Debug, Default)]
struct Snapshot {
    keys: KeySet,
    fetched_at: i64,
    /// Bumped by every fetch, so what was verified with older keys can be told apart.
    generation: u64,
}

/// The outcome of the last refetch, and when.
#[derive(Debug, Default)]
struct RefetchLog {
    /// The last refetch for an unknown `kid`, and whether it succeeded.
    unknown_kid: Option<(i64, bool)>,
    /// The last failed refresh of a stale set.
    stale_failed_at: Option<i64>,
}

/// The issuer's keys, held in memory and refetched by the rules above.
#[derive(Debug)]
pub(crate) struct KeyCache {
    snapshot: RwLock<Arc<Snapshot>>,
    refetch: Mutex<RefetchLog>,
    refetch_interval: i64,
    max_age: i64,
}

impl KeyCache {
    /// A cache holding `keys`, fetched at `now`.
    pub(crate) fn new(keys: KeySet, now: i64, refetch_interval: i64, max_age: i64) -> Self {
        Self {
            snapshot: RwLock::new(Arc::new(Snapshot {
                keys,
                fetched_at: now,
                generation: 0,
            })),
            refetch: Mutex::new(RefetchLog::default()),
            refetch_interval,
            max_age,
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, keys: KeySet, now: i64) {
        let mut slot = self.snapshot.write().unwrap_or_else(PoisonError::into_inner);
        let generation = slot.generation.wrapping_add(1);
        *slot = Arc::new(Snapshot {
            keys,
            fetched_at: now,
            generation,
        });
    }

    fn is_stale(&self, snapshot: &Snapshot, now: i64) -> bool {
        now.saturating_sub(snapshot.fetched_at) >= self.max_age
    }

    /// The generation of the key set, unless it is due for a refresh: a token verified
    /// under this generation needs no new verification.
    pub(crate) fn fresh_generation(&self, now: i64) -> Option<u64> {
        let snapshot = self.current();
        (!self.is_stale(&snapshot, now)).then_some(snapshot.generation)
    }

    /// The key named `kid` and the generation of the set it came from, fetching the JWKS
    /// again if the rules allow.
    pub(crate) async fn key_for(
        &self,
        kid: &str,
        now: i64,
        source: &Source,
    ) -> Result<(Arc<VerificationKey>, u64), TokenError> {
        let snapshot = self.current();
        let snapshot = if self.is_stale(&snapshot, now) {
            self.refresh_stale(now, source).await;
            self.current()
        } else {
            snapshot
        };
        match snapshot.keys.get(kid) {
            Some(key) => Ok((Arc::clone(key), snapshot.generation)),
            None => self.refetch_for_unknown(kid, now, source).await,
        }
    }

    async fn refresh_stale(&self, now: i64, source: &Source) {
        // Someone else is fetching: the current set serves until they finish.
        let Ok(mut log) = self.refetch.try_lock() else {
            return;
        };
        if !self.is_stale(&self.current(), now) {
            return;
        }
        if log
            .stale_failed_at
            .is_some_and(|at| now < at.saturating_add(self.refetch_interval))
        {
            return;
        }
        match source.fetch_jwks().await {
            Ok(keys) => {
                log.stale_failed_at = None;
                self.replace(keys, now);
            }
            Err(error) => {
                tracing::warn!(%error, "JWKS refresh failed; keeping the keys held");
                log.stale_failed_at = Some(now);
            }
        }
    }

    async fn refetch_for_unknown(
        &self,
        kid: &str,
        now: i64,
        source: &Source,
    ) -> Result<(Arc<VerificationKey>, u64), TokenError> {
        let mut log = self.refetch.lock().await;
        // A fetch that finished while we waited may have brought the key.
        let snapshot = self.current();
        if let Some(key) = snapshot.keys.get(kid) {
            return Ok((Arc::clone(key), snapshot.generation));
        }
        if let Some((at, succeeded)) = log.unknown_kid {
            if now < at.saturating_add(self.refetch_interval) {
                return Err(if succeeded {
                    TokenError::UnknownKey
                } else {
                    TokenError::Unavailable
                });
            }
        }
        match source.fetch_jwks().await {
            Ok(keys) => {
                log.unknown_kid = Some((now, true));
                self.replace(keys, now);
                let snapshot = self.current();
                let found = snapshot.keys.get(kid).ok_or(TokenError::UnknownKey)?;
                tracing::info!(%kid, "fetched the issuer's JWKS again and found a new key");
                Ok((Arc::clone(found), snapshot.generation))
            }
            Err(error) => {
                tracing::warn!(%error, %kid, "JWKS refetch for an unknown kid failed");
                log.unknown_kid = Some((now, false));
                Err(TokenError::Unavailable)
            }
        }
    }
}
