//! Scope parsing (RFC 6749 §3.3): never panics; a parsed set prints and parses back to
//! itself, and every token is printable ASCII without space, quote or backslash.
#![no_main]

use latchkey_core::scope::{Scope, ScopeSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Scope::parse(text);
    let Ok(set) = ScopeSet::parse(text) else { return };
    let printed = set.to_string();
    let again = ScopeSet::parse(&printed).expect("a printed scope set parses");
    assert_eq!(again.to_string(), printed);
    for scope in set.iter() {
        let s = scope.as_str();
        assert!(!s.is_empty());
        assert!(s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\'), "{s:?}");
        assert!(set.contains(s));
    }
});
