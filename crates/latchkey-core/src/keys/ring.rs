//! The in-memory key ring: every published key decrypted and parsed once, so signing and
//! verifying never touch the database or the key-encryption key on the request path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Value, json};

use super::lifecycle::{KeyState, RotationPolicy, key_states};
use super::{Algorithm, KeyError, KeyMaterial, KeySealer, StoredKey};
use crate::clock::Timestamp;
use crate::id::Kid;
use crate::store::KeyStore;

/// One key, ready to use.
#[derive(Debug)]
pub struct LoadedKey {
    /// Its stored row (dates and sealed bytes).
    pub stored: StoredKey,
    /// The parsed key pair.
    pub material: KeyMaterial,
}

#[derive(Debug, Default)]
struct Snapshot {
    keys: Vec<StoredKey>,
    loaded: HashMap<Kid, Arc<LoadedKey>>,
}

/// The set of signing keys a node holds, refreshed from the store.
#[derive(Debug)]
pub struct KeyRing {
    sealer: Arc<KeySealer>,
    policy: RotationPolicy,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl KeyRing {
    /// An empty ring; call [`KeyRing::refresh`] to load it.
    pub fn new(sealer: Arc<KeySealer>, policy: RotationPolicy) -> Self {
        Self {
            sealer,
            policy,
            snapshot: RwLock::default(),
        }
    }

    /// The keys as stored (public parts and states), as of the last refresh.
    pub fn stored_keys(&self) -> Vec<StoredKey> {
        self.snapshot.read().map(|s| s.keys.clone()).unwrap_or_default()
    }

    /// Starts a rotation of `alg`: a new key published now that signs after the
    /// pre-publication period; the ring picks it up at once.
    pub async fn rotate(
        &self,
        store: &dyn KeyStore,
        alg: super::Algorithm,
        now: Timestamp,
    ) -> Result<StoredKey, KeyError> {
        let key = super::rotate(store, &self.sealer, alg, now, self.policy.prepublish).await?;
        self.refresh(store).await?;
        Ok(key)
    }

    /// Reloads the key list from the store, decrypting only keys not already held.
    pub async fn refresh(&self, store: &dyn KeyStore) -> Result<(), KeyError> {
        let keys = store.list_keys().await?;
        let current = self.current();
        let mut loaded = HashMap::with_capacity(keys.len());
        for key in &keys {
            let ready = match current.loaded.get(&key.kid) {
                Some(existing) => Arc::clone(existing),
                None => {
                    let pkcs8 = self.sealer.open(&key.kid, &key.sealed_private)?;
                    let material = KeyMaterial::from_pkcs8(key.alg, &pkcs8)?;
                    Arc::new(LoadedKey {
                        stored: key.clone(),
                        material,
                    })
                }
            };
            loaded.insert(key.kid.clone(), ready);
        }
        let next = Arc::new(Snapshot { keys, loaded });
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = next;
        }
        Ok(())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    fn with_states(&self, now: Timestamp) -> (Arc<Snapshot>, Vec<KeyState>) {
        let snapshot = self.current();
        let states = key_states(&snapshot.keys, now, self.policy.retention);
        (snapshot, states)
    }

    /// The key that signs with `alg` at `now`.
    pub fn signing_key(&self, alg: Algorithm, now: Timestamp) -> Option<Arc<LoadedKey>> {
        let (snapshot, states) = self.with_states(now);
        snapshot
            .keys
            .iter()
            .zip(states)
            .find(|(key, state)| key.alg == alg && *state == KeyState::Active)
            .and_then(|(key, _)| snapshot.loaded.get(&key.kid).cloned())
    }

    /// The key a token names by `kid`, if tokens signed by it are accepted at `now`.
    pub fn verification_key(&self, kid: &str, now: Timestamp) -> Option<Arc<LoadedKey>> {
        let (snapshot, states) = self.with_states(now);
        snapshot
            .keys
            .iter()
            .zip(states)
            .find(|(key, state)| key.kid.as_str() == kid && state.verifies())
            .and_then(|(key, _)| snapshot.loaded.get(&key.kid).cloned())
    }

    /// The JWK Set (RFC 7517 §5): every published key, with `kid`, `alg` and `use`.
    pub fn jwks(&self, now: Timestamp) -> Value {
        let (snapshot, states) = self.with_states(now);
        let keys: Vec<Value> = snapshot
            .keys
            .iter()
            .zip(states)
            .filter(|(_, state)| state.is_published())
            .filter_map(|(key, _)| snapshot.loaded.get(&key.kid))
            .map(|loaded| {
                let mut jwk = loaded.material.public_jwk().clone();
                if let Value::Object(members) = &mut jwk {
                    members.insert("kid".into(), json!(loaded.stored.kid.as_str()));
                    members.insert("alg".into(), json!(loaded.stored.alg.as_str()));
                    members.insert("use".into(), json!("sig"));
                }
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    /// The kids of expired keys, which may be deleted.
    pub fn expired(&self, now: Timestamp) -> Vec<Kid> {
        let (snapshot, states) = self.with_states(now);
        snapshot
            .keys
            .iter()
            .zip(states)
            .filter(|(_, state)| matches!(state, KeyState::Expired { .. }))
            .map(|(key, _)| key.kid.clone())
            .collect()
    }
}
