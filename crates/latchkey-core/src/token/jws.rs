//! JWS compact serialization (RFC 7515) for the two algorithms we sign with.
//!
//! Verification trusts nothing in the header but the `kid`: the algorithm is the one the
//! named key was made for (so `alg: none` and HS256-with-the-public-key cannot work), the
//! key must be one we published and that has signed, and `crit` is refused (RFC 7515 §4.1.11).

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::keys::{Algorithm, KeyMaterialError, KeyRing, LoadedKey};
use crate::secret::{b64, b64_decode};

/// The longest token we will even try to parse.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

#[derive(Deserialize)]
struct HeaderIn {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Why a token failed verification. Callers report all of these as simply "invalid".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed token")]
    Malformed,
    /// No `kid`, or one we did not publish or that never signed.
    #[error("unknown signing key")]
    UnknownKey,
    /// The header's `alg` is not the named key's algorithm.
    #[error("algorithm mismatch")]
    AlgorithmMismatch,
    /// Wrong `typ` for this kind of token, or a `crit` header.
    #[error("wrong token type")]
    WrongType,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// Signs `claims` with `key` as a compact JWS of type `typ`.
pub fn sign(key: &LoadedKey, typ: &str, claims: &impl Serialize) -> Result<String, KeyMaterialError> {
    let header = HeaderOut {
        alg: key.stored.alg.as_str(),
        typ,
        kid: key.stored.kid.as_str(),
    };
    let header = serde_json::to_vec(&header).map_err(|_| KeyMaterialError::Sign)?;
    let payload = serde_json::to_vec(claims).map_err(|_| KeyMaterialError::Sign)?;
    let mut token = b64(&header);
    token.push('.');
    token.push_str(&b64(&payload));
    let signature = key.material.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64(&signature));
    Ok(token)
}

/// What a verifier accepts: the JOSE `typ`s and the key algorithms.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Accepted `typ` values (compared ignoring case).
    pub typs: &'a [&'a str],
    /// Accepted algorithms; a token signed by a key of another algorithm is refused.
    pub algs: &'a [Algorithm],
}

/// Verifies a compact JWS against the key ring; returns the payload.
pub fn verify(token: &str, ring: &KeyRing, now: Timestamp, expect: Expect<'_>) -> Result<Vec<u8>, JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: HeaderIn = b64_decode(header_b64)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwsError::Malformed)?;
    if header.crit.is_some() {
        return Err(JwsError::WrongType);
    }
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|typ| expect.typs.iter().any(|want| typ.eq_ignore_ascii_case(want)));
    if !typ_ok {
        return Err(JwsError::WrongType);
    }
    let kid = header.kid.ok_or(JwsError::UnknownKey)?;
    let key = ring.verification_key(&kid, now).ok_or(JwsError::UnknownKey)?;
    if header.alg != key.stored.alg.as_str() || !expect.algs.contains(&key.stored.alg) {
        return Err(JwsError::AlgorithmMismatch);
    }
    let signature = b64_decode(signature_b64).ok_or(JwsError::Malformed)?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = token.get(..signing_input_len).ok_or(JwsError::Malformed)?;
    if !key.material.verify(signing_input.as_bytes(), &signature) {
        return Err(JwsError::BadSignature);
    }
    b64_decode(payload_b64).ok_or(JwsError::Malformed)
}
