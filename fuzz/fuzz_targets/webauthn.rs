//! WebAuthn responses (W3C WebAuthn L3 §7.1, §7.2) and the CBOR under them: never panic,
//! CBOR that decodes re-encodes to the same value, and no assertion verifies unless it is
//! the genuine one: the input is taken whole as each field of an assertion (client data,
//! authenticator data, signature) spliced into a genuine one, and as an attestation
//! object and a COSE key.
#![no_main]

use std::sync::OnceLock;

use latchkey_core::webauthn::soft::{Authenticator, KeyKind};
use latchkey_core::webauthn::{Assertion, PublicKey, RelyingParty, cbor, verify_assertion, verify_registration};
use libfuzzer_sys::fuzz_target;

const CHALLENGE: [u8; 32] = [42; 32];

struct Fixture {
    rp: RelyingParty,
    client_data: Vec<u8>,
    public_key: Vec<u8>,
    assertion: Assertion,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rp = RelyingParty::for_issuer("https://login.example.com").unwrap();
        let mut device = Authenticator::new(KeyKind::Es256, &rp);
        let (client_data, _) = device.create(&CHALLENGE, &rp.origin);
        let public_key = device.cose_key();
        let assertion = device.get(&CHALLENGE, &rp.origin, b"handle");
        Fixture { rp, client_data, public_key, assertion }
    })
}

fn check(assertion: &Assertion) {
    let f = fixture();
    if verify_assertion(&f.rp, &CHALLENGE, assertion, &f.public_key, 0, false).is_ok() {
        assert_eq!(assertion.client_data_json, f.assertion.client_data_json, "forged client data verified");
        assert_eq!(assertion.authenticator_data, f.assertion.authenticator_data, "forged authenticator data verified");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = cbor::decode(data) {
        assert_eq!(cbor::decode(&cbor::encode(&value)).as_ref(), Ok(&value), "re-encoding changed the value");
    }
    let _ = PublicKey::from_cose(data);
    let f = fixture();
    if let Ok(credential) = verify_registration(&f.rp, &CHALLENGE, &f.client_data, data, false) {
        assert!(!credential.id.is_empty() && credential.id.len() <= 1023);
        assert!(PublicKey::from_cose(&credential.public_key).is_ok());
    }
    let genuine = &f.assertion;
    check(&Assertion { client_data_json: data.to_vec(), ..genuine.clone() });
    check(&Assertion { authenticator_data: data.to_vec(), ..genuine.clone() });
    check(&Assertion { signature: data.to_vec(), ..genuine.clone() });
});
