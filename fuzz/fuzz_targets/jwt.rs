//! JWS / JWT verification (RFC 7515, RFC 8725, RFC 9068): never panics, and nothing but
//! the genuine token verifies (a mutation that still verifies must carry the same claims:
//! no forged payload is ever accepted). Inputs are taken as a token, and also spliced
//! into the genuine token's header, payload or signature.
#![no_main]

use latchkey_core::clock::Timestamp;
use latchkey_core::keys::Algorithm;
use latchkey_core::token::jws::{self, Expect};
use latchkey_fuzz::{NOW, keys};
use libfuzzer_sys::fuzz_target;

fn check(token: &str) {
    let keys = keys();
    let expect = Expect { typs: &["at+jwt"], algs: &[Algorithm::Es256, Algorithm::Rs256] };
    if let Ok(payload) = jws::verify(token, &keys.ring, Timestamp::from_secs(NOW), expect) {
        let claims: serde_json::Value = serde_json::from_slice(&payload).expect("verified payload is JSON");
        assert_eq!(claims, keys.claims, "a forged payload verified: {token}");
    }
}

fuzz_target!(|data: &str| {
    check(data);
    let genuine = &keys().token;
    let parts: Vec<&str> = genuine.split('.').collect();
    for i in 0..parts.len() {
        let mut spliced = parts.clone();
        spliced[i] = data;
        check(&spliced.join("."));
    }
});
