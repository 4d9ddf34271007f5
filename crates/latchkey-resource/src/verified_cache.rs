//! Tokens already verified, remembered by their SHA-256 so that a client presenting the
//! same token on every request pays for one signature check, not one per request.
//!
//! An ES256 verification costs about 64 µs on a 2.3 GHz core (the aws-lc floor), a
//! fingerprint and lookup about 1 µs; a client typically sends one token for its whole
//! 15-minute life. Latchkey's own introspection keeps the same kind of cache.
//!
//! An entry stands only while the key set it was verified under is current and fresh: any
//! JWKS fetch (a rotation, or the periodic refresh that drops withdrawn keys) starts a new
//! generation and older entries stop counting. `exp` and `nbf` are checked again on every
//! hit, against the current time. The map is bounded: when full it drops expired and
//! outdated entries, then everything.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::digest;

use crate::claims::AccessClaims;

/// A token's SHA-256: the cache key, never the token itself.
pub(crate) type Fingerprint = [u8; 32];

/// The SHA-256 of `token`.
pub(crate) fn fingerprint(token: &str) -> Fingerprint {
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    fingerprint
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    claims: Arc<AccessClaims>,
}

/// The verified-token cache.
#[derive(Debug)]
pub(crate) struct VerifiedCache {
    capacity: usize,
    entries: RwLock<HashMap<Fingerprint, Entry>>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens; zero disables it.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The claims of a token verified under key-set `generation`.
    pub(crate) fn get(&self, fingerprint: &Fingerprint, generation: u64) -> Option<Arc<AccessClaims>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(fingerprint)
            .filter(|entry| entry.generation == generation)
            .map(|entry| Arc::clone(&entry.claims))
    }

    /// Remembers a token verified under `generation`; `now` and `leeway` decide which
    /// entries are dead when the cache is full.
    pub(crate) fn insert(
        &self,
        fingerprint: Fingerprint,
        generation: u64,
        claims: Arc<AccessClaims>,
        now: i64,
        leeway: i64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| {
                entry.generation == generation && now < entry.claims.expires_at.saturating_add(leeway)
            });
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(fingerprint, Entry { generation, claims });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}
