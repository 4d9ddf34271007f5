//! The form / query parser every endpoint uses (RFC 6749 §3.1, §3.2): never panics; what
//! it accepts has unique names, no empty values, and survives a round trip.
#![no_main]

use latchkey_core::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::from_form(data) else { return };
    let pairs: Vec<(&str, &str)> = params.iter().collect();
    for (i, (name, value)) in pairs.iter().enumerate() {
        assert!(!value.is_empty(), "an empty value counts as omitted");
        assert!(pairs.iter().skip(i + 1).all(|(other, _)| other != name), "repeated name accepted");
        assert_eq!(params.get(name), Some(*value));
    }
    let encoded: String = pairs
        .iter()
        .map(|(n, v)| {
            let enc = |t: &str| t.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            format!("{}={}", enc(n), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let again = Params::from_form(encoded.as_bytes()).expect("re-encoded form parses");
    assert_eq!(again.iter().collect::<Vec<_>>(), pairs);
});
