//! The storage port: what core needs from a database, as atomic operations named for the
//! rule they serve. One implementation per database lives in `latchkey-store`.

use async_trait::async_trait;

use crate::client::Client;
use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::id::{ClientId, Jti, Kid};
use crate::keys::StoredKey;
use crate::scope::{Scope, ScopeSet};
use crate::secret::SecretHash;

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client; `Conflict` if the id exists.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    /// The client with this id, secret hash included.
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Deletes a client; `false` if there was none.
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Replaces a confidential client's secret hash; `false` if there is no such client.
    async fn replace_client_secret(&self, id: &ClientId, hash: &SecretHash) -> Result<bool, StoreError>;
}

/// A scope and the description a consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDescription {
    /// The scope.
    pub scope: Scope,
    /// What it lets a client do, in words for the resource owner.
    pub description: String,
}

/// The scopes the server knows.
#[async_trait]
pub trait ScopeStore: Send + Sync {
    /// Creates each scope not yet known, described by its own name.
    async fn ensure_scopes(&self, scopes: &ScopeSet) -> Result<(), StoreError>;
    /// Creates or re-describes a scope.
    async fn describe_scope(&self, scope: &Scope, description: &str) -> Result<(), StoreError>;
    /// Every scope, sorted by name.
    async fn list_scopes(&self) -> Result<Vec<ScopeDescription>, StoreError>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key.
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// Every stored key, oldest first.
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Deletes a key that has expired out of the JWKS.
    async fn delete_key(&self, kid: &Kid) -> Result<(), StoreError>;
}

/// A revoked access token, kept until the token would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The token's `jti`.
    pub jti: Jti,
    /// The token's `exp`: after it the entry is useless and is purged.
    pub expires_at: Timestamp,
    /// When it was revoked (the cursor nodes sync on).
    pub revoked_at: Timestamp,
}

/// Revoked access tokens (RFC 7009). JWTs are self-contained, so revocation is a deny list.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records a revocation; revoking twice is not an error.
    async fn revoke_access_token(
        &self,
        jti: &Jti,
        client_id: &ClientId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Unexpired revocations made at or after `since`.
    async fn revocations_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Revocation>, StoreError>;
    /// Deletes revocations of tokens that have expired; returns how many.
    async fn purge_revocations(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Everything a Latchkey node stores.
#[async_trait]
pub trait Store: ClientStore + ScopeStore + KeyStore + RevocationStore {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
