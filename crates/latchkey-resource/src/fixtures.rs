//! Test support: keys that sign tokens the way Latchkey does, a fake issuer that counts
//! its JWKS fetches and introspection requests, and a clock the test moves.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::auth::{AuthBuilder, LatchkeyAuth};
use crate::discovery::Source;
use crate::error::FetchError;
use crate::introspection::IntrospectionResponse;
use crate::keys::{KeySet, parse_jwks};

pub(crate) const ISSUER: &str = "https://id.example.com";
pub(crate) const AUDIENCE: &str = "https://notes.example";
pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A signing key and its public JWK.
pub(crate) struct TestKey {
    pub(crate) kid: String,
    pair: Pair,
}

impl TestKey {
    pub(crate) fn es256(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self {
            kid: kid.to_owned(),
            pair: Pair::Ec(pair),
        }
    }

    pub(crate) fn rs256(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
        }
    }

    pub(crate) fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Ec(_) => "ES256",
            Pair::Rsa(_) => "RS256",
        }
    }

    /// The public JWK, as Latchkey publishes it.
    pub(crate) fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                    "kid": self.kid, "alg": "ES256", "use": "sig",
                })
            }
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                    "kid": self.kid, "alg": "RS256", "use": "sig",
                })
            }
        }
    }

    /// The usual header: this key's alg and kid, `typ: at+jwt`.
    pub(crate) fn header(&self) -> Value {
        json!({"alg": self.alg(), "typ": "at+jwt", "kid": self.kid})
    }

    pub(crate) fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// Signs whatever header and claims it is given.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Ec(pair) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .unwrap();
                sig
            }
        };
        format!("{input}.{}", b64(&signature))
    }
}

pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// Claims Latchkey would issue at `NOW`, valid for 15 minutes.
pub(crate) fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "client_id": "client-1",
        "exp": NOW + 900,
        "iat": NOW,
        "jti": "jti-1",
        "scope": "notes:read profile",
    })
}

/// Claims with `edit` applied.
pub(crate) fn claims_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut claims = claims();
    edit(&mut claims);
    claims
}

/// An issuer whose JWKS and introspection answers the test sets, counting requests.
#[derive(Debug, Default)]
pub(crate) struct FakeIssuer {
    jwks: Mutex<Value>,
    jwks_down: AtomicBool,
    jwks_fetches: AtomicUsize,
    introspection: Mutex<Value>,
    introspection_down: AtomicBool,
    introspections: AtomicUsize,
}

impl FakeIssuer {
    pub(crate) fn new(keys: &[&TestKey]) -> Arc<Self> {
        let issuer = Arc::new(Self::default());
        issuer.publish(keys);
        issuer
    }

    /// Replaces the published keys.
    pub(crate) fn publish(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        self.publish_jwks(json!({ "keys": keys }));
    }

    pub(crate) fn publish_jwks(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    pub(crate) fn set_jwks_down(&self, down: bool) {
        self.jwks_down.store(down, Ordering::SeqCst);
    }

    pub(crate) fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The keys published now, without counting a fetch (the initial discovery).
    pub(crate) fn current_keys(&self) -> KeySet {
        parse_jwks(self.jwks.lock().unwrap().to_string().as_bytes()).unwrap()
    }

    pub(crate) fn fetch_jwks(&self) -> Result<KeySet, FetchError> {
        self.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        if self.jwks_down.load(Ordering::SeqCst) {
            return Err(FetchError::Status {
                url: "fake jwks".into(),
                status: 503,
            });
        }
        Ok(self.current_keys())
    }

    /// The next introspection answers.
    pub(crate) fn answer_introspection(&self, response: Value) {
        *self.introspection.lock().unwrap() = response;
    }

    pub(crate) fn set_introspection_down(&self, down: bool) {
        self.introspection_down.store(down, Ordering::SeqCst);
    }

    pub(crate) fn introspections(&self) -> usize {
        self.introspections.load(Ordering::SeqCst)
    }

    pub(crate) fn introspect(&self, _token: &str) -> Result<IntrospectionResponse, FetchError> {
        self.introspections.fetch_add(1, Ordering::SeqCst);
        if self.introspection_down.load(Ordering::SeqCst) {
            return Err(FetchError::Status {
                url: "fake introspection".into(),
                status: 500,
            });
        }
        Ok(serde_json::from_value(self.introspection.lock().unwrap().clone()).unwrap())
    }
}

/// A clock standing at `NOW` until moved.
#[derive(Debug, Clone)]
pub(crate) struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicI64::new(NOW)))
    }

    pub(crate) fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub(crate) fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    pub(crate) fn as_clock(&self) -> impl Fn() -> i64 + Send + Sync + 'static {
        let now = Arc::clone(&self.0);
        move || now.load(Ordering::SeqCst)
    }
}

/// A verifier of `issuer`'s tokens at `clock`, with settings edited by `edit`.
pub(crate) fn auth_with(
    issuer: &Arc<FakeIssuer>,
    clock: &TestClock,
    introspecting: bool,
    edit: impl FnOnce(AuthBuilder) -> AuthBuilder,
) -> LatchkeyAuth {
    let builder = LatchkeyAuth::builder(ISSUER, AUDIENCE).clock(clock.as_clock());
    edit(builder).build_with(Source::Fake(Arc::clone(issuer)), introspecting)
}

/// A verifier with default settings.
pub(crate) fn auth(issuer: &Arc<FakeIssuer>, clock: &TestClock) -> LatchkeyAuth {
    auth_with(issuer, clock, false, |b| b)
}
