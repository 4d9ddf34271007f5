//! A small bounded map whose entries expire, for the caches on the request path (clients,
//! verified tokens). Staleness is bounded by each entry's expiry; size by a capacity past
//! which expired entries are swept and, if that is not enough, everything is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use crate::clock::Timestamp;

/// A bounded map of entries that expire.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: RwLock<HashMap<K, (Timestamp, V)>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The value for `key` if present and not expired at `now`.
    pub fn get(&self, key: &K, now: Timestamp) -> Option<V> {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(expires_at, _)| now < *expires_at)
            .map(|(_, value)| value.clone())
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }

    /// Stores `value` until `expires_at`.
    pub fn insert(&self, key: K, value: V, expires_at: Timestamp, now: Timestamp) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, (expires, _)| now < *expires);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (expires_at, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn entries_expire_at_their_deadline() {
        let cache = TtlCache::new(10);
        cache.insert("a", 1, t(10), t(0));
        assert_eq!(cache.get(&"a", t(9)), Some(1));
        assert_eq!(cache.get(&"a", t(10)), None);
    }

    #[test]
    fn a_full_cache_sweeps_expired_entries_first_then_everything() {
        let cache = TtlCache::new(2);
        cache.insert("old", 1, t(5), t(0));
        cache.insert("live", 2, t(100), t(0));
        cache.insert("new", 3, t(100), t(6));
        assert_eq!(cache.get(&"live", t(6)), Some(2));
        assert_eq!(cache.get(&"new", t(6)), Some(3));
        cache.insert("newer", 4, t(100), t(7));
        assert_eq!(cache.get(&"live", t(7)), None);
        assert_eq!(cache.get(&"newer", t(7)), Some(4));
    }
}
