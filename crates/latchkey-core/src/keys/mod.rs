//! Signing keys: generation, encryption at rest, the rotation lifecycle and the in-memory
//! key ring that signs and verifies without touching the database.

mod lifecycle;
mod material;
mod ring;
mod sealing;

pub use lifecycle::{KeyState, RotationPolicy, key_states};
pub use material::{Algorithm, KeyMaterial, KeyMaterialError};
pub use ring::{KeyRing, LoadedKey};
pub use sealing::{KeySealer, SealError};

use crate::clock::Timestamp;
use crate::id::Kid;

/// A signing key as stored: the private key sealed under the key-encryption key.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// `kid`.
    pub kid: Kid,
    /// The JWS algorithm it signs with.
    pub alg: Algorithm,
    /// PKCS#8 DER, sealed by [`KeySealer`] with the kid as associated data.
    pub sealed_private: Vec<u8>,
    /// When it was created (and published in the JWKS).
    pub created_at: Timestamp,
    /// When it starts signing; until then it is published but unused ("next").
    pub activates_at: Timestamp,
}

use std::time::Duration;

use crate::error::StoreError;
use crate::store::KeyStore;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key would not decrypt (usually the wrong master key).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Key material could not be generated or parsed.
    #[error(transparent)]
    Material(#[from] KeyMaterialError),
}

/// Generates, seals and stores a key of `alg` that starts signing at `activates_at`.
pub async fn create_key(
    store: &dyn KeyStore,
    sealer: &KeySealer,
    alg: Algorithm,
    now: Timestamp,
    activates_at: Timestamp,
) -> Result<StoredKey, KeyError> {
    let kid = Kid::generate();
    let pkcs8 = KeyMaterial::generate(alg)?;
    let sealed_private = sealer.seal(&kid, &pkcs8)?;
    let key = StoredKey {
        kid,
        alg,
        sealed_private,
        created_at: now,
        activates_at,
    };
    store.insert_key(&key).await?;
    Ok(key)
}

/// On first start (or if every key of an algorithm is still only pre-published), creates a
/// key that signs at once for each algorithm lacking one. Returns the keys created.
pub async fn ensure_signing_keys(
    store: &dyn KeyStore,
    sealer: &KeySealer,
    now: Timestamp,
) -> Result<Vec<StoredKey>, KeyError> {
    let existing = store.list_keys().await?;
    let mut created = Vec::new();
    for alg in Algorithm::ALL {
        if !lifecycle::has_active(&existing, alg, now) {
            created.push(create_key(store, sealer, alg, now, now).await?);
        }
    }
    Ok(created)
}

/// Starts a rotation: publishes a new key of `alg` now that signs after `prepublish`.
pub async fn rotate(
    store: &dyn KeyStore,
    sealer: &KeySealer,
    alg: Algorithm,
    now: Timestamp,
    prepublish: Duration,
) -> Result<StoredKey, KeyError> {
    create_key(store, sealer, alg, now, now + prepublish).await
}
