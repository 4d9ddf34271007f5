//! Key material: generating ES256 and RS256 keys, signing, verifying, and the public JWK.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair};
use serde_json::{Value, json};

use crate::secret::b64;

/// The JWS algorithms Latchkey signs with (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256: access tokens (cheap to sign).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: ID tokens (mandatory to implement in OpenID Connect).
    Rs256,
}

impl Algorithm {
    /// Both algorithms.
    pub const ALL: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

    /// The JWS `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown key algorithm {s:?} (use ES256 or RS256)"))
    }
}

/// Why key material could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    /// Generation failed in the crypto library.
    #[error("key generation failed")]
    Generate,
    /// The PKCS#8 document is not a key of the expected algorithm.
    #[error("stored private key is not a valid {0} key")]
    Rejected(Algorithm),
    /// Signing failed in the crypto library.
    #[error("signing failed")]
    Sign,
}

enum PrivateKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

/// A parsed key pair: signs without re-parsing, verifies with a pre-parsed public key.
pub struct KeyMaterial {
    private: PrivateKey,
    public: ParsedPublicKey,
    jwk_public: Value,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial([redacted])")
    }
}

impl KeyMaterial {
    /// Generates a fresh key and returns its PKCS#8 DER (to be sealed and stored).
    pub fn generate(alg: Algorithm) -> Result<Vec<u8>, KeyMaterialError> {
        match alg {
            Algorithm::Es256 => EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyMaterialError::Generate),
            Algorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec())
                .map_err(|_| KeyMaterialError::Generate),
        }
    }

    /// Parses PKCS#8 DER produced by [`KeyMaterial::generate`].
    pub fn from_pkcs8(alg: Algorithm, pkcs8: &[u8]) -> Result<Self, KeyMaterialError> {
        let rejected = |_| KeyMaterialError::Rejected(alg);
        match alg {
            Algorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(rejected)?;
                let point = pair.public_key().as_ref();
                // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
                let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                    return Err(KeyMaterialError::Rejected(alg));
                };
                let jwk_public = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
                let public = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| KeyMaterialError::Rejected(alg))?;
                Ok(Self {
                    private: PrivateKey::Es256(pair),
                    public,
                    jwk_public,
                })
            }
            Algorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let jwk_public = json!({"kty": "RSA", "n": b64(&components.n), "e": b64(&components.e)});
                let public =
                    ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                        .map_err(|_| KeyMaterialError::Rejected(alg))?;
                Ok(Self {
                    private: PrivateKey::Rs256(pair),
                    public,
                    jwk_public,
                })
            }
        }
    }

    /// Signs `message` (the JWS signing input) and returns the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyMaterialError> {
        let rng = SystemRandom::new();
        match &self.private {
            PrivateKey::Es256(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyMaterialError::Sign),
            PrivateKey::Rs256(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyMaterialError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// Whether `signature` is valid for `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.public.verify_sig(message, signature).is_ok()
    }

    /// The public JWK members (`kty`, `crv`/`x`/`y` or `n`/`e`), without `kid`, `alg`, `use`.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk_public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(alg: Algorithm) {
        let pkcs8 = KeyMaterial::generate(alg).unwrap_or_default();
        let key = KeyMaterial::from_pkcs8(alg, &pkcs8).unwrap_or_else(|e| panic!("{e}"));
        let sig = key.sign(b"header.payload").unwrap_or_default();
        assert!(key.verify(b"header.payload", &sig));
        assert!(!key.verify(b"header.payloaX", &sig));
        let other = KeyMaterial::from_pkcs8(alg, &KeyMaterial::generate(alg).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!other.verify(b"header.payload", &sig));
    }

    #[test]
    fn es256_signs_64_byte_fixed_signatures_that_verify() {
        round_trip(Algorithm::Es256);
        let pkcs8 = KeyMaterial::generate(Algorithm::Es256).unwrap_or_default();
        let key = KeyMaterial::from_pkcs8(Algorithm::Es256, &pkcs8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.sign(b"x").map(|s| s.len()).ok(), Some(64));
        assert_eq!(key.public_jwk()["crv"], "P-256");
    }

    #[test]
    fn rs256_round_trips() {
        round_trip(Algorithm::Rs256);
    }

    #[test]
    fn a_key_of_one_algorithm_is_rejected_as_the_other() {
        let pkcs8 = KeyMaterial::generate(Algorithm::Es256).unwrap_or_default();
        assert!(KeyMaterial::from_pkcs8(Algorithm::Rs256, &pkcs8).is_err());
        assert!(KeyMaterial::from_pkcs8(Algorithm::Es256, b"garbage").is_err());
    }
}
