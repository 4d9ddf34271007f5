//! Redirect-URI registration and matching (RFC 6749 §3.1.2, RFC 9700 §4.1, RFC 8252 §7.3):
//! never panics; a registered URI matches only its exact string, or for loopback
//! `http` registrations, the same URI with another port.
#![no_main]

use latchkey_core::client::RedirectUri;
use latchkey_fuzz::portless;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let (registered, requested) = data.split_once('\n').unwrap_or((data, data));
    let Ok(uri) = RedirectUri::parse(registered) else { return };
    assert!(uri.matches(uri.as_str()), "a registered URI matches itself");
    if uri.matches(requested) && requested != uri.as_str() {
        let (Some(a), Some(b)) = (portless(uri.as_str()), portless(requested)) else {
            panic!("{requested:?} matched {registered:?} without being it or a loopback port variant");
        };
        assert_eq!(a, b, "loopback variants differ only in port");
    }
});
