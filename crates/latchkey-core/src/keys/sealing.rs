//! Private keys at rest: AES-256-GCM under a key derived from the master key, with a random
//! 96-bit nonce per seal and the key's `kid` as associated data, so a sealed key copied onto
//! another row does not open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::id::Kid;
use crate::secret::MasterKey;

/// Seals and opens private keys.
pub struct KeySealer(RandomizedNonceKey);

impl fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySealer")
    }
}

/// A sealed key would not open: wrong master key, tampering, or another row's ciphertext.
#[derive(Debug, thiserror::Error)]
#[error(
    "a stored signing key could not be decrypted: is LATCHKEY_MASTER_KEY the key this database was created with?"
)]
pub struct SealError;

impl KeySealer {
    /// The sealer for this master key.
    pub fn new(master: &MasterKey) -> Result<Self, SealError> {
        RandomizedNonceKey::new(&AES_256_GCM, &master.derive("latchkey key-encryption v1"))
            .map(Self)
            .map_err(|_| SealError)
    }

    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, kid: &Kid, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut buffer = plaintext.to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(kid.as_str().as_bytes()), &mut buffer)
            .map_err(|_| SealError)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    /// Opens what [`KeySealer::seal`] produced for the same `kid`.
    pub fn open(&self, kid: &Kid, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(SealError)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_str().as_bytes()), &mut buffer)
            .map_err(|_| SealError)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(master: &MasterKey) -> KeySealer {
        KeySealer::new(master).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn seal_then_open_round_trips_and_never_repeats_a_ciphertext() {
        let sealer = sealer(&MasterKey::generate());
        let kid = Kid::new("k1");
        let a = sealer.seal(&kid, b"private key").unwrap_or_default();
        let b = sealer.seal(&kid, b"private key").unwrap_or_default();
        assert_ne!(a, b);
        assert_eq!(sealer.open(&kid, &a).ok().as_deref(), Some(&b"private key"[..]));
        assert!(!a.windows(11).any(|w| w == b"private key"));
    }

    #[test]
    fn wrong_master_key_wrong_kid_or_tampering_fail_to_open() {
        let master = MasterKey::generate();
        let sealed = sealer(&master)
            .seal(&Kid::new("k1"), b"secret")
            .unwrap_or_default();
        assert!(
            sealer(&MasterKey::generate())
                .open(&Kid::new("k1"), &sealed)
                .is_err()
        );
        assert!(sealer(&master).open(&Kid::new("k2"), &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(sealer(&master).open(&Kid::new("k1"), &tampered).is_err());
        assert!(sealer(&master).open(&Kid::new("k1"), &sealed[..5]).is_err());
    }
}
