//! The rotation lifecycle, as a pure function of stored dates and `now`.
//!
//! A key is created *next*: published in the JWKS but not signing, for the pre-publication
//! period, so every verifier that caches the JWKS has seen it before the first token it
//! signs. It then becomes *active* and signs. When a later key of the same algorithm
//! activates, it becomes *retired*: still published, so tokens it signed keep verifying,
//! until the longest token lifetime has passed; then it is *expired* and drops out.
//!
//! Deriving the state from dates, rather than storing it, means every node computes the
//! same answer from the same rows and no background job has to flip states on time.

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use super::{Algorithm, StoredKey};
use crate::clock::Timestamp;

/// How long keys are pre-published and retained.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// How long a new key is published before it signs; longer than the JWKS cache lifetime.
    pub prepublish: Duration,
    /// How long a retired key stays published: the longest token lifetime plus leeway.
    pub retention: Duration,
}

/// Where a key is in its life at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signing (one per algorithm).
    Active,
    /// Superseded at `since`; published until `until` so its tokens still verify.
    Retired {
        /// When its successor activated.
        since: Timestamp,
        /// When it drops out of the JWKS.
        until: Timestamp,
    },
    /// Past retention: no longer published, and may be deleted.
    Expired {
        /// When its successor activated.
        since: Timestamp,
    },
}

impl KeyState {
    /// Whether the key is in the JWKS.
    pub fn is_published(self) -> bool {
        !matches!(self, Self::Expired { .. })
    }

    /// Whether tokens signed by the key are accepted: active or retired (a `next` key has
    /// signed nothing, so a token claiming it is forged).
    pub fn verifies(self) -> bool {
        matches!(self, Self::Active | Self::Retired { .. })
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired { .. } => "retired",
            Self::Expired { .. } => "expired",
        })
    }
}

/// The order keys of one algorithm take over in: by activation, then creation, then kid.
fn succession(a: &StoredKey, b: &StoredKey) -> Ordering {
    (a.activates_at, a.created_at, a.kid.as_str()).cmp(&(b.activates_at, b.created_at, b.kid.as_str()))
}

/// The state of each key at `now`, in the order given.
pub fn key_states(keys: &[StoredKey], now: Timestamp, retention: Duration) -> Vec<KeyState> {
    keys.iter()
        .map(|key| {
            if key.activates_at > now {
                return KeyState::Next;
            }
            // The first key of the same algorithm that took over after this one.
            let successor = keys
                .iter()
                .filter(|other| other.alg == key.alg && other.activates_at <= now)
                .filter(|other| succession(other, key) == Ordering::Greater)
                .min_by(|a, b| succession(a, b));
            match successor {
                None => KeyState::Active,
                Some(next) => {
                    let since = next.activates_at;
                    let until = since + retention;
                    if now >= until {
                        KeyState::Expired { since }
                    } else {
                        KeyState::Retired { since, until }
                    }
                }
            }
        })
        .collect()
}

/// Whether `alg` has a key that signs at `now`.
pub(crate) fn has_active(keys: &[StoredKey], alg: Algorithm, now: Timestamp) -> bool {
    keys.iter().any(|k| k.alg == alg && k.activates_at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Kid;

    const HOUR: Duration = Duration::from_secs(3600);

    fn key(kid: &str, alg: Algorithm, created: i64, activates: i64) -> StoredKey {
        StoredKey {
            kid: Kid::new(kid),
            alg,
            sealed_private: Vec::new(),
            created_at: Timestamp::from_secs(created),
            activates_at: Timestamp::from_secs(activates),
        }
    }

    fn states(keys: &[StoredKey], now: i64) -> Vec<String> {
        key_states(keys, Timestamp::from_secs(now), HOUR)
            .into_iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn a_rotation_goes_next_then_active_while_the_old_key_retires_then_expires() {
        let keys = [
            key("old", Algorithm::Es256, 0, 0),
            key("new", Algorithm::Es256, 1000, 1000 + 3600),
        ];
        assert_eq!(states(&keys, 1000), ["active", "next"]);
        assert_eq!(states(&keys, 4599), ["active", "next"]);
        assert_eq!(states(&keys, 4600), ["retired", "active"]);
        assert_eq!(states(&keys, 4600 + 3599), ["retired", "active"]);
        assert_eq!(states(&keys, 4600 + 3600), ["expired", "active"]);
    }

    #[test]
    fn algorithms_rotate_independently() {
        let keys = [
            key("ec1", Algorithm::Es256, 0, 0),
            key("rsa1", Algorithm::Rs256, 0, 0),
            key("ec2", Algorithm::Es256, 10, 10),
        ];
        assert_eq!(states(&keys, 20), ["retired", "active", "active"]);
    }

    #[test]
    fn retirement_dates_come_from_the_direct_successor() {
        let keys = [
            key("a", Algorithm::Es256, 0, 0),
            key("b", Algorithm::Es256, 0, 100),
            key("c", Algorithm::Es256, 0, 200),
        ];
        let got = key_states(&keys, Timestamp::from_secs(250), HOUR);
        assert_eq!(
            got.first(),
            Some(&KeyState::Retired {
                since: Timestamp::from_secs(100),
                until: Timestamp::from_secs(3700)
            })
        );
        assert_eq!(got.get(2), Some(&KeyState::Active));
    }

    #[test]
    fn ties_in_activation_are_broken_by_creation_then_kid() {
        let keys = [key("b", Algorithm::Es256, 5, 5), key("a", Algorithm::Es256, 5, 5)];
        assert_eq!(states(&keys, 5), ["active", "retired"]);
    }

    #[test]
    fn only_active_and_retired_keys_verify_and_expired_ones_are_unpublished() {
        assert!(!KeyState::Next.verifies() && KeyState::Next.is_published());
        assert!(KeyState::Active.verifies());
        let expired = KeyState::Expired {
            since: Timestamp::from_secs(0),
        };
        assert!(!expired.verifies() && !expired.is_published());
    }
}
