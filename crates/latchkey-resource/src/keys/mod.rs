//! The issuer's public keys: a JWK Set (RFC 7517 §5) parsed once into ready-to-use
//! aws-lc-rs keys, and the cache that decides when to fetch it again.
//!
//! Only keys that name both a `kid` and an `alg` of ES256 or RS256, whose key type fits that
//! algorithm (RFC 7518 §6), are kept: a token's header must then name the same `alg` as its
//! key, so `none`, `HS256` keyed with a public key and cross-algorithm tricks cannot verify.

mod cache;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use serde::Deserialize;

pub(crate) use cache::KeyCache;

use crate::jwt::b64url_decode;

/// The JWS algorithms a Latchkey issuer signs with (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// ECDSA P-256 with SHA-256: Latchkey's access tokens.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: Latchkey's ID tokens, accepted if a token names it.
    Rs256,
}

impl Algorithm {
    /// The algorithm with this exact JWS name (names are case-sensitive, RFC 7515 §4.1.1).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

/// One public key, parsed once so verification never re-parses it.
pub(crate) struct VerificationKey {
    pub(crate) alg: Algorithm,
    public: ParsedPublicKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// Whether `signature` is this key's signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.public.verify_sig(message, signature).is_ok()
    }
}

/// The usable keys of a JWK Set, by `kid`.
pub(crate) type KeySet = HashMap<String, Arc<VerificationKey>>;

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Parses a JWK Set document, keeping the keys this crate can use and logging the others.
pub(crate) fn parse_jwks(document: &[u8]) -> Result<KeySet, String> {
    let set: JwkSet = serde_json::from_slice(document).map_err(|e| format!("not a JWK Set: {e}"))?;
    let mut keys = KeySet::new();
    for value in set.keys {
        match parse_jwk(value) {
            Ok((kid, key)) => match keys.entry(kid) {
                Entry::Occupied(entry) => {
                    tracing::warn!(kid = %entry.key(), "the JWKS repeats a kid; keeping the first key");
                }
                Entry::Vacant(entry) => {
                    entry.insert(Arc::new(key));
                }
            },
            Err(reason) => tracing::debug!(reason, "skipping a JWK"),
        }
    }
    Ok(keys)
}

fn parse_jwk(value: serde_json::Value) -> Result<(String, VerificationKey), &'static str> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
    if jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return Err("not a signing key");
    }
    let kid = jwk.kid.clone().ok_or("no kid")?;
    let alg = jwk.alg.as_deref().ok_or("no alg")?;
    let alg = Algorithm::from_name(alg).ok_or("an algorithm other than ES256 and RS256")?;
    let public = match alg {
        Algorithm::Es256 => es256_key(&jwk)?,
        Algorithm::Rs256 => rs256_key(&jwk)?,
    };
    Ok((kid, VerificationKey { alg, public }))
}

/// A P-256 key from `x` and `y` (RFC 7518 §6.2.1): the uncompressed point 0x04 || x || y.
fn es256_key(jwk: &Jwk) -> Result<ParsedPublicKey, &'static str> {
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
        return Err("ES256 key that is not an EC P-256 key");
    }
    let coordinate = |c: &Option<String>| {
        c.as_deref()
            .and_then(b64url_decode)
            .filter(|bytes| bytes.len() == 32)
            .ok_or("EC coordinate missing or not 32 bytes")
    };
    let (x, y) = (coordinate(&jwk.x)?, coordinate(&jwk.y)?);
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    // aws-lc checks that the point is on the curve.
    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).map_err(|_| "EC point rejected")
}

/// An RSA key from `n` and `e` (RFC 7518 §6.3.1), 2048 to 8192 bits.
fn rs256_key(jwk: &Jwk) -> Result<ParsedPublicKey, &'static str> {
    if jwk.kty != "RSA" {
        return Err("RS256 key that is not an RSA key");
    }
    let component = |c: &Option<String>| {
        c.as_deref()
            .and_then(b64url_decode)
            .map(|bytes| {
                let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                bytes.get(first..).map(<[u8]>::to_vec).unwrap_or_default()
            })
            .filter(|bytes| !bytes.is_empty())
            .ok_or("RSA component missing or empty")
    };
    let (n, e) = (component(&jwk.n)?, component(&jwk.e)?);
    // aws-lc checks the size only when verifying; refuse small keys up front.
    if !(256..=1024).contains(&n.len()) {
        return Err("RSA modulus outside 2048 to 8192 bits");
    }
    PublicKeyComponents { n, e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| "RSA key rejected")
}
