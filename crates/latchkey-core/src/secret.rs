//! Secrets as types: generated here, shown once, stored only as a keyed hash, compared in
//! constant time, never printed by `Debug`.

use std::fmt;

use aws_lc_rs::{constant_time, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The system RNG failing is not recoverable; aws-lc aborts rather than return weak bytes.
    if rand::fill(&mut out).is_err() {
        std::process::abort();
    }
    out
}

/// base64url without padding (RFC 7515 §2), the encoding of every token and key we emit.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; `None` on anything else.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The key-encryption key (`LATCHKEY_MASTER_KEY`): 32 bytes from which every at-rest key is
/// derived, one per purpose, so no two uses ever share a key.
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Why a master key was refused.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// Not base64.
    #[error("the master key is not base64")]
    NotBase64,
    /// Decoded to the wrong number of bytes.
    #[error("the master key must be 32 bytes, found {0}")]
    WrongLength(usize),
}

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Parses standard or URL-safe base64, padded or not, of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(MasterKeyError::NotBase64)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::WrongLength(bytes.len()))?;
        Ok(Self(key))
    }

    /// Standard base64, for writing the generated key to its file.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// A 32-byte subkey for one purpose: HMAC-SHA256(master, label).
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, label.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// A client secret in the clear: exists only between generation and the one time it is
/// shown, and while a presented secret is being checked. Not `Clone`, so it is not kept.
pub struct ClientSecret(String);

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl ClientSecret {
    /// A fresh secret: 256 random bits, base64url (43 characters).
    pub fn generate() -> Self {
        Self(b64(&random_bytes::<32>()))
    }

    /// Wraps a secret a client presented.
    pub fn presented(value: String) -> Self {
        Self(value)
    }

    /// # Security warning
    /// The secret itself: print it only in the one response that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Compares two secrets in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// An opaque, server-generated credential (session id, authorization code, refresh
/// token): 256 random bits, base64url. Only its keyed hash is ever stored.
pub struct OpaqueToken(String);

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken([redacted])")
    }
}

impl OpaqueToken {
    /// A fresh token.
    pub fn generate() -> Self {
        Self(b64(&random_bytes::<32>()))
    }

    /// Wraps a token a client or browser presented.
    pub fn presented(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// # Security warning
    /// The token itself: send it only to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The only storable form of a secret: HMAC-SHA256 under a key derived from the master key.
///
/// A keyed fast hash, not argon2: client secrets are 256 random bits, so there is nothing
/// to brute-force, and argon2 would cap the token endpoint near 90 requests per second.
/// The key means a stolen database alone does not let anyone test guesses.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(Vec<u8>);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash")
    }
}

impl SecretHash {
    /// Wraps a hash read from the database.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison.
    pub fn matches(&self, other: &SecretHash) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

/// Hashes secrets (client secrets now; refresh tokens and codes later) under the derived key.
#[derive(Clone)]
pub struct SecretHasher(hmac::Key);

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher")
    }
}

impl SecretHasher {
    /// The hasher for this master key.
    pub fn new(master: &MasterKey) -> Self {
        Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            &master.derive("latchkey secret-hash v1"),
        ))
    }

    /// The storable hash of a client secret.
    pub fn hash(&self, secret: &ClientSecret) -> SecretHash {
        SecretHash(hmac::sign(&self.0, secret.0.as_bytes()).as_ref().to_vec())
    }

    /// The storable hash of an opaque token.
    pub fn hash_token(&self, token: &OpaqueToken) -> SecretHash {
        SecretHash(hmac::sign(&self.0, token.0.as_bytes()).as_ref().to_vec())
    }

    /// A MAC of `value` under a key of its own purpose (CSRF tokens); `purpose` keeps the
    /// MACs of different uses apart.
    pub fn mac(&self, purpose: &str, value: &str) -> String {
        let mut input = Vec::with_capacity(purpose.len() + 1 + value.len());
        input.extend_from_slice(purpose.as_bytes());
        input.push(0);
        input.extend_from_slice(value.as_bytes());
        b64(hmac::sign(&self.0, &input).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_256_bits_and_distinct() {
        let a = ClientSecret::generate();
        let b = ClientSecret::generate();
        assert_eq!(b64_decode(a.expose()).map(|v| v.len()), Some(32));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn hash_matches_only_the_same_secret_under_the_same_master_key() {
        let master = MasterKey::generate();
        let hasher = SecretHasher::new(&master);
        let secret = ClientSecret::generate();
        let stored = hasher.hash(&secret);
        assert!(stored.matches(&hasher.hash(&ClientSecret::presented(secret.expose().to_owned()))));
        assert!(!stored.matches(&hasher.hash(&ClientSecret::generate())));
        let other = SecretHasher::new(&MasterKey::generate());
        assert!(!stored.matches(&other.hash(&secret)));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let secret = ClientSecret::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert_eq!(format!("{:?}", MasterKey::generate()), "MasterKey([redacted])");
    }

    #[test]
    fn master_key_accepts_base64_variants_and_refuses_wrong_lengths() {
        let key = MasterKey::generate();
        let parsed = MasterKey::from_base64(&key.to_base64()).map(|k| k.0);
        assert_eq!(parsed.ok(), Some(key.0));
        assert!(matches!(
            MasterKey::from_base64("AAAA"),
            Err(MasterKeyError::WrongLength(3))
        ));
        assert!(matches!(
            MasterKey::from_base64("!!"),
            Err(MasterKeyError::NotBase64)
        ));
    }
}
