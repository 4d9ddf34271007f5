//! The device authorization grant (RFC 8628): a device without a browser shows a short
//! user code; the user approves it on another device; the device polls for its tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::id::{ClientId, FamilyId};
use crate::scope::ScopeSet;
use crate::secret::{SecretHash, random_bytes};

/// RFC 8628 §6.1: 20 consonants (no vowels, so no words), easy to read and type.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A user code: 8 characters from [`ALPHABET`], about 34 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh random code, without bias (rejection sampling over bytes).
    pub fn generate() -> Self {
        let mut code = String::with_capacity(8);
        while code.len() < 8 {
            for byte in random_bytes::<16>() {
                // 240 is the largest multiple of 20 below 256: reject the rest.
                if byte < 240 && code.len() < 8 {
                    if let Some(&c) = ALPHABET.get(usize::from(byte % 20)) {
                        code.push(char::from(c));
                    }
                }
            }
        }
        Self(code)
    }

    /// Parses what a person typed: case, spaces and dashes are ignored. `None` if what is
    /// left is not 8 characters of the alphabet.
    pub fn parse(typed: &str) -> Option<Self> {
        let cleaned: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (cleaned.len() == 8 && cleaned.bytes().all(|b| ALPHABET.contains(&b))).then_some(Self(cleaned))
    }

    /// The stored form: 8 characters, no dash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(4.min(self.0.len()));
        format!("{a}-{b}")
    }
}

/// Where a device code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// Approved; the next poll gets the tokens.
    Approved,
    /// The user said no.
    Denied,
    /// Tokens were issued; the code is used up.
    Spent,
}

impl DeviceStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Spent => "spent",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Spent]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A device authorization as stored.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    /// The keyed hash of the device code.
    pub device_code_hash: SecretHash,
    /// The user code.
    pub user_code: UserCode,
    /// The client that asked.
    pub client_id: ClientId,
    /// The scopes it asked for.
    pub scopes: ScopeSet,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its status.
    pub status: DeviceStatus,
    /// The token family, once approved.
    pub family_id: Option<FamilyId>,
}

/// How fast each device polls, per node. Kept in memory so a poll that answers
/// `authorization_pending` or `slow_down` costs one indexed read and no write; a device
/// spreading its polls over several nodes is held to the interval on each of them.
#[derive(Debug, Default)]
pub struct PollTracker(Mutex<HashMap<Vec<u8>, (Timestamp, Duration)>>);

/// What the tracker says about a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollPace {
    /// On time.
    Ok,
    /// Too fast: the interval is now this long (RFC 8628 §3.5: +5 seconds each time).
    SlowDown(Duration),
}

const MAX_TRACKED: usize = 100_000;

impl PollTracker {
    /// Records a poll of `code` at `now`; `interval` is the starting interval.
    pub fn poll(&self, code: &SecretHash, now: Timestamp, interval: Duration) -> PollPace {
        let Ok(mut devices) = self.0.lock() else {
            return PollPace::Ok;
        };
        if devices.len() >= MAX_TRACKED {
            devices.retain(|_, (last, _)| *last + Duration::from_secs(3600) > now);
        }
        match devices.get_mut(code.as_bytes()) {
            None => {
                devices.insert(code.as_bytes().to_vec(), (now, interval));
                PollPace::Ok
            }
            Some((last, current)) => {
                if now < *last + *current {
                    *current += Duration::from_secs(5);
                    *last = now;
                    PollPace::SlowDown(*current)
                } else {
                    *last = now;
                    PollPace::Ok
                }
            }
        }
    }

    /// Forgets a code (spent or expired).
    pub fn forget(&self, code: &SecretHash) {
        if let Ok(mut devices) = self.0.lock() {
            devices.remove(code.as_bytes());
        }
    }
}

/// Failed user-code entries allowed per client address and per session in a window
/// (RFC 8628 §5.1). Codes carry 34 bits, so this keeps guessing hopeless.
pub const FAILURE_LIMIT: u32 = 10;
/// The brute-force window.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_consonant_alphabet_and_display_with_a_dash() {
        for _ in 0..200 {
            let code = UserCode::generate();
            assert_eq!(code.as_str().len(), 8);
            assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)), "{code:?}");
            assert_eq!(code.display().len(), 9);
            assert_eq!(UserCode::parse(&code.display()), Some(code));
        }
    }

    #[test]
    fn typing_ignores_case_spaces_and_dashes() {
        let code = UserCode::parse("bcdf-ghjk").unwrap_or_else(|| UserCode(String::new()));
        assert_eq!(code.as_str(), "BCDFGHJK");
        assert_eq!(UserCode::parse(" Bc Df  g-h-j-k "), Some(code));
        for bad in ["BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", ""] {
            assert_eq!(UserCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn polling_faster_than_the_interval_slows_the_device_down_by_five_seconds_each_time() {
        let tracker = PollTracker::default();
        let code = SecretHash::from_bytes(vec![1]);
        let five = Duration::from_secs(5);
        let t = Timestamp::from_secs;
        assert_eq!(tracker.poll(&code, t(0), five), PollPace::Ok);
        assert_eq!(tracker.poll(&code, t(5), five), PollPace::Ok);
        assert_eq!(
            tracker.poll(&code, t(7), five),
            PollPace::SlowDown(Duration::from_secs(10))
        );
        assert_eq!(
            tracker.poll(&code, t(12), five),
            PollPace::SlowDown(Duration::from_secs(15))
        );
        assert_eq!(
            tracker.poll(&code, t(27), five),
            PollPace::Ok,
            "15 s after the last poll"
        );
        assert_eq!(
            tracker.poll(&code, t(41), five),
            PollPace::SlowDown(Duration::from_secs(20))
        );
        tracker.forget(&code);
        assert_eq!(tracker.poll(&code, t(42), five), PollPace::Ok);
    }
}
