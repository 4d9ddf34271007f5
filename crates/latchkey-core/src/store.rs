//! The storage port: what core needs from a database, as atomic operations named for the
//! rule they serve. One implementation per database lives in `latchkey-store`.

use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditQuery};
use crate::client::Client;
use crate::clock::Timestamp;
use crate::device::{DeviceAuthorization, UserCode};
use crate::error::StoreError;
use crate::family::{
    AuthorizationCode, CodeRedemption, Family, RefreshRotation, RefreshTokenRecord, Session,
};
use crate::federation::{LinkedIdentity, UpstreamProvider};
use crate::id::{ClientId, FamilyId, Jti, Kid, UserId};
use crate::keys::StoredKey;
use crate::roles::Role;
use crate::scope::{Scope, ScopeSet};
use crate::secret::SecretHash;
use crate::user::User;

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
    /// Replaces a client's metadata (name, grant types, redirect URIs, scopes, ID-token
    /// algorithm; never its id, secret or auth method); `false` if it does not exist.
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError>;
}

/// A scope and the description a consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDescription {
    /// The scope.
    pub scope: Scope,
    /// What it lets a client do, in words for the resource owner.
    pub description: String,
}

/// Upstream identity providers and the identities linked to local users.
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// Creates or replaces a provider.
    async fn put_provider(&self, provider: &UpstreamProvider) -> Result<(), StoreError>;
    /// Every provider, by id.
    async fn list_providers(&self) -> Result<Vec<UpstreamProvider>, StoreError>;
    /// The provider with `id`.
    async fn find_provider(&self, id: &str) -> Result<Option<UpstreamProvider>, StoreError>;
    /// Deletes a provider (linked identities stay, and work again if it comes back).
    async fn delete_provider(&self, id: &str) -> Result<bool, StoreError>;
    /// The local user an upstream identity is linked to.
    async fn find_identity(&self, issuer: &str, subject: &str) -> Result<Option<UserId>, StoreError>;
    /// Links an upstream identity; `Conflict` if it is linked already.
    async fn link_identity(&self, identity: &LinkedIdentity) -> Result<(), StoreError>;
    /// The identities linked to `user`.
    async fn list_identities(&self, user: &UserId) -> Result<Vec<LinkedIdentity>, StoreError>;
    /// Unlinks one of `user`'s identities; `false` if it was not theirs.
    async fn unlink_identity(&self, user: &UserId, issuer: &str, subject: &str) -> Result<bool, StoreError>;
    /// Whether a local user has this e-mail address (ignoring case).
    async fn email_in_use(&self, email: &str) -> Result<bool, StoreError>;
}

/// A user's TOTP credential as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCredential {
    /// The shared secret, sealed to the user.
    pub sealed_secret: Vec<u8>,
    /// Whether enrolment finished (a correct code was entered once).
    pub confirmed: bool,
    /// The last 30-second step a code was accepted for.
    pub last_step: i64,
}

/// Second factors: TOTP credentials and recovery codes.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// Starts or restarts an enrolment with an unconfirmed secret; `false` (nothing
    /// changed) if the user already has a confirmed one.
    async fn begin_totp(
        &self,
        user: &UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// The user's credential, if any.
    async fn find_totp(&self, user: &UserId) -> Result<Option<TotpCredential>, StoreError>;
    /// Records `step` as used, and the credential as confirmed, if `step` is later than
    /// the last one used; `false` for a replay.
    async fn use_totp_step(&self, user: &UserId, step: i64) -> Result<bool, StoreError>;
    /// Removes the credential and the recovery codes; `false` if there was none.
    async fn delete_totp(&self, user: &UserId) -> Result<bool, StoreError>;
    /// Replaces the user's recovery codes.
    async fn replace_recovery_codes(&self, user: &UserId, hashes: &[SecretHash]) -> Result<(), StoreError>;
    /// Spends an unused recovery code; `false` if unknown or used.
    async fn use_recovery_code(
        &self,
        user: &UserId,
        hash: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// How many unused recovery codes the user has.
    async fn recovery_codes_left(&self, user: &UserId) -> Result<u64, StoreError>;
}

/// A passkey (WebAuthn credential) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// Whose it is.
    pub user_id: UserId,
    /// What the user called it.
    pub name: String,
    /// Its COSE public key.
    pub public_key: Vec<u8>,
    /// Its COSE algorithm.
    pub algorithm: i64,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Whether it may be synced between devices.
    pub backup_eligible: bool,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed someone in.
    pub last_used_at: Option<Timestamp>,
}

/// Passkeys, and the one-time challenges of their ceremonies.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey; `false` if its credential id is registered already (to anyone).
    async fn add_passkey(&self, passkey: &Passkey) -> Result<bool, StoreError>;
    /// The passkey with this credential id.
    async fn find_passkey(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError>;
    /// A user's passkeys, oldest first.
    async fn list_passkeys(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError>;
    /// Records a sign-in: stores `sign_count` if it is still above the stored one (or both
    /// are 0, for authenticators without a counter); `false` if another sign-in with the
    /// same or a later count got there first.
    async fn use_passkey(
        &self,
        credential_id: &[u8],
        sign_count: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Removes one of `user`'s passkeys; `false` if they have no such passkey.
    async fn delete_passkey(&self, user: &UserId, credential_id: &[u8]) -> Result<bool, StoreError>;
    /// Removes every passkey of `user`; returns how many.
    async fn delete_passkeys(&self, user: &UserId) -> Result<u64, StoreError>;
    /// Spends a ceremony challenge (by its hash): `false` if it was spent before. Spent
    /// challenges are forgotten once past `expires_at`.
    async fn spend_challenge(
        &self,
        hash: &SecretHash,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Roles (named sets of permissions, which are scopes) and the users holding them, and
/// which scopes are restricted to role holders.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates or replaces a role (its description and its whole set of scopes).
    async fn put_role(&self, role: &Role, now: Timestamp) -> Result<(), StoreError>;
    /// Deletes a role (and every user's hold of it); `false` if it was not known.
    async fn delete_role(&self, name: &str) -> Result<bool, StoreError>;
    /// Every role, sorted by name.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Gives `role` to `user`; `false` if either is unknown.
    async fn grant_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError>;
    /// Takes `role` from `user`; `false` if the user did not hold it.
    async fn revoke_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError>;
    /// The roles `user` holds, sorted by name.
    async fn user_roles(&self, user: &UserId) -> Result<Vec<Role>, StoreError>;
    /// Marks a scope restricted (or not), creating it if unknown.
    async fn set_scope_restricted(&self, scope: &Scope, restricted: bool) -> Result<(), StoreError>;
    /// Every restricted scope.
    async fn restricted_scopes(&self) -> Result<ScopeSet, StoreError>;
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
    /// Forgets a scope's description; `false` if it was not known.
    async fn delete_scope(&self, scope: &Scope) -> Result<bool, StoreError>;
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

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` if the username (ignoring case) is taken.
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<(), StoreError>;
    /// The user with this id.
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// The user with this username (ignoring case) and their password hash.
    async fn find_user_by_username(&self, username: &str) -> Result<Option<(User, String)>, StoreError>;
    /// Every user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Deletes a user with their sessions, consents and token families.
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError>;
    /// Replaces a password hash; `false` if there is no such user.
    async fn set_password_hash(&self, id: &UserId, password_hash: &str) -> Result<bool, StoreError>;
    /// Replaces a user's e-mail address and display name; `false` if there is no such user.
    async fn update_profile(
        &self,
        id: &UserId,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<bool, StoreError>;
}

/// Browser sessions, keyed by the hash of the cookie value.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session.
    async fn insert_session(&self, id: &SecretHash, session: &Session) -> Result<(), StoreError>;
    /// The live session with this id.
    async fn find_session(&self, id: &SecretHash, now: Timestamp) -> Result<Option<Session>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, id: &SecretHash) -> Result<(), StoreError>;
    /// Ends every session of `user` but `except`; returns how many.
    async fn delete_user_sessions(
        &self,
        user: &UserId,
        except: Option<&SecretHash>,
    ) -> Result<u64, StoreError>;
    /// Deletes expired sessions; returns how many.
    async fn purge_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// What a user approved for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The client.
    pub client_id: ClientId,
    /// The approved scopes.
    pub scopes: ScopeSet,
    /// When the user first approved it.
    pub first_granted: Timestamp,
    /// When the approval last changed.
    pub updated_at: Timestamp,
}

/// Remembered consent.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The scopes `user` has approved for `client`.
    async fn find_consent(&self, user: &UserId, client: &ClientId) -> Result<Option<ScopeSet>, StoreError>;
    /// Every client `user` has approved, with the scopes, most recent first.
    async fn list_consents(&self, user: &UserId) -> Result<Vec<ConsentRecord>, StoreError>;
    /// Whether `user` holds a live refresh token of `client` (offline access).
    async fn has_offline_access(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Withdraws consent: forgets it and revokes every token family of that user and
    /// client, their live access tokens included.
    async fn revoke_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Records the approved scopes (replacing what was there).
    async fn save_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        scopes: &ScopeSet,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}

/// Token families: codes, refresh tokens and the access tokens they issued. Every
/// single-use rule is one conditional statement, so two nodes racing cannot both win.
#[async_trait]
pub trait FamilyStore: Send + Sync {
    /// Stores a new family.
    async fn insert_family(&self, family: &Family) -> Result<(), StoreError>;
    /// The family with this id.
    async fn find_family(&self, id: &FamilyId) -> Result<Option<Family>, StoreError>;
    /// Stores a new family with the authorization code that starts it, atomically and in
    /// one trip to the database (this is every authorization's write).
    async fn insert_family_with_code(
        &self,
        family: &Family,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError>;
    /// The code with this hash, its family, and whether it was used already; a read, for
    /// validating a redemption before spending the code.
    async fn find_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(AuthorizationCode, Family, bool)>, StoreError>;
    /// Marks the code used and stores the refresh token issued for it, atomically, unless
    /// it expired or its family was revoked first; a second use says `Replayed` so the
    /// caller revokes the family.
    async fn redeem_code(
        &self,
        hash: &SecretHash,
        refresh_token: Option<&RefreshTokenRecord>,
        now: Timestamp,
    ) -> Result<CodeRedemption, StoreError>;
    /// Stores a refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// The refresh token with this hash, its family, and whether it was rotated already;
    /// a read, without rotating (validation, introspection, revocation).
    async fn find_refresh_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(RefreshTokenRecord, Family, bool)>, StoreError>;
    /// Marks a refresh token rotated and stores its successor, atomically and in one trip
    /// to the database (this is every refresh's write); a token rotated before says when,
    /// and then nothing is stored.
    async fn rotate_refresh_token(
        &self,
        hash: &SecretHash,
        successor: &RefreshTokenRecord,
        now: Timestamp,
    ) -> Result<RefreshRotation, StoreError>;
    /// Revokes every live family of `user` and/or `client` (at least one is given);
    /// returns how many.
    async fn revoke_families_of(
        &self,
        user: Option<&UserId>,
        client: Option<&ClientId>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
    /// Deletes what can no longer be used: codes an hour past expiry, refresh tokens past
    /// their idle lifetime, and families expired or revoked before `forget_before` (with
    /// whatever is left of them). Returns how many rows went.
    async fn purge_families(&self, now: Timestamp, forget_before: Timestamp) -> Result<u64, StoreError>;
    /// Families revoked at or after `since`, with when (the revocation list syncs on it).
    async fn revoked_families_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(FamilyId, Timestamp)>, StoreError>;
    /// Revokes a family: its refresh tokens stop working, and its access tokens, which
    /// name it in their `grant_id` claim, turn inactive as the revocation list syncs.
    async fn revoke_family(&self, family: &FamilyId, now: Timestamp) -> Result<(), StoreError>;
}

/// Device authorizations (RFC 8628) and the brute-force counters of user-code entry.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new device authorization; `Conflict` if its user code is taken.
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<(), StoreError>;
    /// Frees the user code of an expired authorization so it can be issued again.
    async fn release_expired_user_code(&self, user_code: &UserCode, now: Timestamp)
    -> Result<(), StoreError>;
    /// The authorization a device code names: the one read a poll costs.
    async fn find_device_by_code(&self, hash: &SecretHash)
    -> Result<Option<DeviceAuthorization>, StoreError>;
    /// The authorization a user code names.
    async fn find_device_by_user_code(
        &self,
        user_code: &UserCode,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// Pending and live → approved for `family`; `false` if it was not pending or expired.
    async fn approve_device(
        &self,
        user_code: &UserCode,
        family: &FamilyId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Pending and live → denied.
    async fn deny_device(&self, user_code: &UserCode, now: Timestamp) -> Result<bool, StoreError>;
    /// Approved → spent, atomically: exactly one poll receives the tokens.
    async fn spend_device(&self, hash: &SecretHash, now: Timestamp) -> Result<bool, StoreError>;
    /// Failed user-code entries by `subject` in the current window.
    async fn user_code_failures(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError>;
    /// Counts one more failed entry; returns the count in the window.
    async fn record_user_code_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError>;
    /// Deletes expired device authorizations and stale counters.
    async fn purge_device_codes(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends events (one write for the batch).
    async fn insert_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Events matching `query`, newest first.
    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes events older than `before`; returns how many.
    async fn purge_audit_events(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// The histogram a store implementation may time its operations in (label `operation`,
/// the method name); named here so the exporter and the store agree.
pub const QUERY_DURATION_METRIC: &str = "latchkey_store_query_duration_seconds";

/// One connection pool's occupancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    /// Which pool (`readers`, `writer`, `pool`).
    pub name: &'static str,
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}

/// Everything a Latchkey node stores.
#[async_trait]
pub trait Store:
    ClientStore
    + ScopeStore
    + RoleStore
    + MfaStore
    + PasskeyStore
    + FederationStore
    + KeyStore
    + RevocationStore
    + UserStore
    + SessionStore
    + ConsentStore
    + FamilyStore
    + DeviceStore
    + AuditStore
{
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// How full each connection pool is, for the metrics.
    fn pool_status(&self) -> Vec<PoolStatus> {
        Vec::new()
    }
}
