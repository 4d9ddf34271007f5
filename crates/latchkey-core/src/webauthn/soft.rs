//! A software authenticator for tests: it makes credentials and assertions the way a
//! browser and a CTAP2 authenticator do (attestation "none", a real key pair, a counter),
//! so the relying-party checks run against genuine bytes.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};

use super::cbor::{Value, encode};
use super::{Assertion, RelyingParty, sha256};

/// Which key the authenticator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 (what nearly every passkey uses).
    Es256,
    /// Ed25519.
    Ed25519,
    /// RSA 2048 with PKCS#1 v1.5 and SHA-256 (Windows Hello's).
    Rs256,
}

enum Key {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// One credential on a software authenticator, scoped to one RP id.
pub struct Authenticator {
    key: Key,
    rp_id_hash: [u8; 32],
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The signature counter (incremented before each assertion if `counts`).
    pub counter: u32,
    /// Whether it keeps a signature counter (synced passkeys send 0 always).
    pub counts: bool,
    /// Whether it reports the user present (UP).
    pub user_present: bool,
    /// Whether it reports the user verified (UV).
    pub user_verified: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// A new credential for `rp`.
    pub fn new(kind: KeyKind, rp: &RelyingParty) -> Self {
        let key = match kind {
            KeyKind::Es256 => {
                Key::Es256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("a P-256 key"))
            }
            KeyKind::Ed25519 => Key::Ed25519(Ed25519KeyPair::generate().expect("an Ed25519 key")),
            KeyKind::Rs256 => Key::Rs256(RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key")),
        };
        Self {
            key,
            rp_id_hash: sha256(rp.id.as_bytes()),
            credential_id: crate::secret::random_bytes::<16>().to_vec(),
            counter: 0,
            counts: true,
            user_present: true,
            user_verified: true,
        }
    }

    /// The credential's COSE public key.
    pub fn cose_key(&self) -> Vec<u8> {
        let int = |i: i128| Value::Int(i);
        let map = match &self.key {
            Key::Es256(pair) => {
                let point = pair.public_key().as_ref();
                Value::Map(vec![
                    (int(1), int(2)),
                    (int(3), int(-7)),
                    (int(-1), int(1)),
                    (int(-2), Value::Bytes(point[1..33].to_vec())),
                    (int(-3), Value::Bytes(point[33..65].to_vec())),
                ])
            }
            Key::Ed25519(pair) => Value::Map(vec![
                (int(1), int(1)),
                (int(3), int(-8)),
                (int(-1), int(6)),
                (int(-2), Value::Bytes(pair.public_key().as_ref().to_vec())),
            ]),
            Key::Rs256(pair) => {
                let (n, e) = rsa_public_key(pair.public_key().as_ref());
                Value::Map(vec![
                    (int(1), int(3)),
                    (int(3), int(-257)),
                    (int(-1), Value::Bytes(n)),
                    (int(-2), Value::Bytes(e)),
                ])
            }
        };
        encode(&map)
    }

    fn flags(&self, attested: bool) -> u8 {
        u8::from(self.user_present) | (u8::from(self.user_verified) << 2) | if attested { 0x40 } else { 0 }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            Key::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .expect("signing")
                .as_ref()
                .to_vec(),
            Key::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Key::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
                    .expect("signing");
                signature
            }
        }
    }

    /// `navigator.credentials.create()`: the `clientDataJSON` and `attestationObject`.
    pub fn create(&mut self, challenge: &[u8], origin: &str) -> (Vec<u8>, Vec<u8>) {
        let client_data = client_data("webauthn.create", challenge, origin);
        let mut auth_data = self.rp_id_hash.to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend(
            u16::try_from(self.credential_id.len())
                .expect("short id")
                .to_be_bytes(),
        );
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let attestation = encode(&Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(Vec::new())),
            (Value::Text("authData".into()), Value::Bytes(auth_data)),
        ]));
        (client_data, attestation)
    }

    /// `navigator.credentials.get()`: an assertion over `challenge`, carrying `user_handle`
    /// (empty for none).
    pub fn get(&mut self, challenge: &[u8], origin: &str, user_handle: &[u8]) -> Assertion {
        if self.counts {
            self.counter += 1;
        }
        let client_data_json = client_data("webauthn.get", challenge, origin);
        let mut authenticator_data = self.rp_id_hash.to_vec();
        authenticator_data.push(self.flags(false));
        authenticator_data.extend(self.counter.to_be_bytes());
        let mut signed = authenticator_data.clone();
        signed.extend(sha256(&client_data_json));
        Assertion {
            credential_id: self.credential_id.clone(),
            signature: self.sign(&signed),
            client_data_json,
            authenticator_data,
            user_handle: (!user_handle.is_empty()).then(|| user_handle.to_vec()),
        }
    }
}

/// The modulus and exponent of a DER `RSAPublicKey` (RFC 8017 §A.1.1), leading zeros
/// dropped.
fn rsa_public_key(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn element(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = der[0];
        let (len, header) = match der[1] {
            short if short < 0x80 => (usize::from(short), 2),
            long => {
                let count = usize::from(long & 0x7f);
                let len = der[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                (len, 2 + count)
            }
        };
        (tag, &der[header..header + len], &der[header + len..])
    }
    let (_, sequence, _) = element(der);
    let (_, n, rest) = element(sequence);
    let (_, e, _) = element(rest);
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    (strip(n), strip(e))
}

fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    serde_json::json!({
        "type": kind,
        "challenge": crate::secret::b64(challenge),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}
