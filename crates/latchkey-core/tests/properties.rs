//! Property tests for the parsers attackers reach first (run with the normal suite; the
//! `cargo fuzz` targets of issue #8 need a nightly toolchain this machine does not have):
//! scope parsing, redirect-URI registration and matching, request parameters, and JWS
//! verification. None may panic on any input; each must keep its invariants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::client::RedirectUri;
use latchkey_core::clock::Timestamp;
use latchkey_core::keys::{Algorithm, KeyRing, KeySealer, RotationPolicy};
use latchkey_core::params::Params;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::MasterKey;
use latchkey_core::token::jws::{self, Expect};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn scope_parsing_never_panics_and_round_trips(text in "\\PC{0,80}") {
        if let Ok(set) = ScopeSet::parse(&text) {
            let again = ScopeSet::parse(&set.to_string()).unwrap();
            prop_assert_eq!(again.to_string(), set.to_string());
            for scope in set.iter() {
                prop_assert!(!scope.as_str().contains([' ', '"', '\\']));
                prop_assert!(Scope::parse(scope.as_str()).is_ok());
            }
        }
    }

    #[test]
    fn printable_scope_tokens_are_accepted(token in "[!#-\\[\\]-~]{1,64}") {
        let scope = Scope::parse(&token).unwrap();
        prop_assert_eq!(scope.as_str(), token.as_str());
    }

    #[test]
    fn redirect_uris_never_panic_and_match_only_themselves(
        registered in "https://[a-z]{1,12}\\.example\\.com/[a-z/]{0,12}",
        noise in "\\PC{0,40}",
    ) {
        let _ = RedirectUri::parse(&noise);
        let uri = RedirectUri::parse(&registered).unwrap();
        prop_assert!(uri.matches(&registered));
        let tricked = format!("{registered}{noise}");
        prop_assert_eq!(uri.matches(&tricked), noise.is_empty());
        prop_assert!(!uri.matches(&registered.to_uppercase()) || registered == registered.to_uppercase());
    }

    #[test]
    fn loopback_registrations_accept_any_port_and_nothing_else(port in 1u16.., path in "/[a-z]{0,10}", other in "[a-z]{1,10}") {
        let uri = RedirectUri::parse(&format!("http://127.0.0.1:4000{path}")).unwrap();
        let any_port = format!("http://127.0.0.1:{port}{path}");
        let no_port = format!("http://127.0.0.1{path}");
        let other_path = format!("http://127.0.0.1:{port}{path}/{other}");
        let other_host = format!("http://127.0.0.2:{port}{path}");
        let other_scheme = format!("https://127.0.0.1:{port}{path}");
        prop_assert!(uri.matches(&any_port));
        prop_assert!(uri.matches(&no_port));
        prop_assert!(!uri.matches(&other_path));
        prop_assert!(!uri.matches(&other_host));
        prop_assert!(!uri.matches(&other_scheme));
    }

    #[test]
    fn repeated_parameters_are_always_refused(
        pairs in proptest::collection::vec(("[a-c]{1,2}", "\\PC{0,10}"), 0..8),
    ) {
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let repeated = names.windows(2).any(|w| w[0] == w[1]);
        let parsed = Params::from_pairs(pairs.clone());
        prop_assert_eq!(parsed.is_err(), repeated);
        if let Ok(params) = parsed {
            // An empty value is the parameter omitted (RFC 6749 §3.1).
            for (k, v) in &pairs {
                let expected = Some(v.as_str()).filter(|v| !v.is_empty());
                prop_assert_eq!(params.get(k), expected);
            }
        }
    }

    #[test]
    fn jws_verification_never_panics_and_never_accepts_noise(token in "\\PC{0,300}", dots in "[A-Za-z0-9_\\-]{0,40}\\.[A-Za-z0-9_\\-]{0,60}\\.[A-Za-z0-9_\\-]{0,90}") {
        let ring = empty_ring();
        let expect = Expect { typs: &["at+jwt"], algs: &[Algorithm::Es256] };
        prop_assert!(jws::verify(&token, &ring, Timestamp::from_secs(1_700_000_000), expect).is_err());
        prop_assert!(jws::verify(&dots, &ring, Timestamp::from_secs(1_700_000_000), expect).is_err());
    }
}

fn empty_ring() -> KeyRing {
    let sealer = Arc::new(KeySealer::new(&MasterKey::generate()).unwrap());
    KeyRing::new(
        sealer,
        RotationPolicy {
            prepublish: Duration::from_secs(3600),
            retention: Duration::from_secs(3600),
        },
    )
}
