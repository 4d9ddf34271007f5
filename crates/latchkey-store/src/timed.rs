//! A store that times every operation into the `latchkey_store_query_duration_seconds`
//! histogram (label `operation`: the store method), around whichever database is behind it.
//! Written once from the traits in `latchkey_core::store`; a new store method needs its
//! forwarding method here too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use latchkey_core::audit::{AuditEvent, AuditQuery};
use latchkey_core::client::Client;
use latchkey_core::clock::Timestamp;
use latchkey_core::device::{DeviceAuthorization, UserCode};
use latchkey_core::error::StoreError;
use latchkey_core::family::{
    AuthorizationCode, CodeRedemption, Family, RefreshRotation, RefreshTokenRecord, Session,
};
use latchkey_core::federation::{LinkedIdentity, UpstreamProvider};
use latchkey_core::id::{ClientId, FamilyId, Jti, Kid, UserId};
use latchkey_core::keys::StoredKey;
use latchkey_core::roles::Role;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::SecretHash;
use latchkey_core::store::*;
use latchkey_core::user::User;

/// Times the operations of the store inside it.
pub(crate) struct TimedStore {
    inner: Arc<dyn Store>,
}

impl TimedStore {
    pub(crate) fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }
}

fn observe(operation: &'static str, started: Instant) {
    metrics::histogram!(QUERY_DURATION_METRIC, "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

#[async_trait]
impl ClientStore for TimedStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_client(client).await;
        observe("insert_client", started);
        result
    }
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_client(id).await;
        observe("find_client", started);
        result
    }
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_clients().await;
        observe("list_clients", started);
        result
    }
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_client(id).await;
        observe("delete_client", started);
        result
    }
    async fn replace_client_secret(&self, id: &ClientId, hash: &SecretHash) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.replace_client_secret(id, hash).await;
        observe("replace_client_secret", started);
        result
    }
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.update_client(client).await;
        observe("update_client", started);
        result
    }
}

#[async_trait]
impl ScopeStore for TimedStore {
    async fn delete_scope(&self, scope: &Scope) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_scope(scope).await;
        observe("delete_scope", started);
        result
    }

    async fn ensure_scopes(&self, scopes: &ScopeSet) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.ensure_scopes(scopes).await;
        observe("ensure_scopes", started);
        result
    }
    async fn describe_scope(&self, scope: &Scope, description: &str) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.describe_scope(scope, description).await;
        observe("describe_scope", started);
        result
    }
    async fn list_scopes(&self) -> Result<Vec<ScopeDescription>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_scopes().await;
        observe("list_scopes", started);
        result
    }
}

#[async_trait]
impl RoleStore for TimedStore {
    async fn put_role(&self, role: &Role, now: Timestamp) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.put_role(role, now).await;
        observe("put_role", started);
        result
    }

    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_role(name).await;
        observe("delete_role", started);
        result
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_roles().await;
        observe("list_roles", started);
        result
    }

    async fn grant_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.grant_role(user, role).await;
        observe("grant_role", started);
        result
    }

    async fn revoke_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.revoke_role(user, role).await;
        observe("revoke_role", started);
        result
    }

    async fn user_roles(&self, user: &UserId) -> Result<Vec<Role>, StoreError> {
        let started = Instant::now();
        let result = self.inner.user_roles(user).await;
        observe("user_roles", started);
        result
    }

    async fn set_scope_restricted(&self, scope: &Scope, restricted: bool) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.set_scope_restricted(scope, restricted).await;
        observe("set_scope_restricted", started);
        result
    }

    async fn restricted_scopes(&self) -> Result<ScopeSet, StoreError> {
        let started = Instant::now();
        let result = self.inner.restricted_scopes().await;
        observe("restricted_scopes", started);
        result
    }
}

#[async_trait]
impl PasskeyStore for TimedStore {
    async fn add_passkey(&self, passkey: &Passkey) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.add_passkey(passkey).await;
        observe("add_passkey", started);
        result
    }

    async fn find_passkey(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_passkey(credential_id).await;
        observe("find_passkey", started);
        result
    }

    async fn list_passkeys(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_passkeys(user).await;
        observe("list_passkeys", started);
        result
    }

    async fn use_passkey(
        &self,
        credential_id: &[u8],
        sign_count: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.use_passkey(credential_id, sign_count, now).await;
        observe("use_passkey", started);
        result
    }

    async fn delete_passkey(&self, user: &UserId, credential_id: &[u8]) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_passkey(user, credential_id).await;
        observe("delete_passkey", started);
        result
    }

    async fn delete_passkeys(&self, user: &UserId) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_passkeys(user).await;
        observe("delete_passkeys", started);
        result
    }

    async fn spend_challenge(
        &self,
        hash: &SecretHash,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.spend_challenge(hash, expires_at, now).await;
        observe("spend_challenge", started);
        result
    }
}

#[async_trait]
impl MfaStore for TimedStore {
    async fn begin_totp(
        &self,
        user: &UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.begin_totp(user, sealed_secret, now).await;
        observe("begin_totp", started);
        result
    }

    async fn find_totp(&self, user: &UserId) -> Result<Option<TotpCredential>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_totp(user).await;
        observe("find_totp", started);
        result
    }

    async fn use_totp_step(&self, user: &UserId, step: i64) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.use_totp_step(user, step).await;
        observe("use_totp_step", started);
        result
    }

    async fn delete_totp(&self, user: &UserId) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_totp(user).await;
        observe("delete_totp", started);
        result
    }

    async fn replace_recovery_codes(&self, user: &UserId, hashes: &[SecretHash]) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.replace_recovery_codes(user, hashes).await;
        observe("replace_recovery_codes", started);
        result
    }

    async fn use_recovery_code(
        &self,
        user: &UserId,
        hash: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.use_recovery_code(user, hash, now).await;
        observe("use_recovery_code", started);
        result
    }

    async fn recovery_codes_left(&self, user: &UserId) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.recovery_codes_left(user).await;
        observe("recovery_codes_left", started);
        result
    }
}

#[async_trait]
impl FederationStore for TimedStore {
    async fn put_provider(&self, provider: &UpstreamProvider) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.put_provider(provider).await;
        observe("put_provider", started);
        result
    }

    async fn list_providers(&self) -> Result<Vec<UpstreamProvider>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_providers().await;
        observe("list_providers", started);
        result
    }

    async fn find_provider(&self, id: &str) -> Result<Option<UpstreamProvider>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_provider(id).await;
        observe("find_provider", started);
        result
    }

    async fn delete_provider(&self, id: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_provider(id).await;
        observe("delete_provider", started);
        result
    }

    async fn find_identity(&self, issuer: &str, subject: &str) -> Result<Option<UserId>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_identity(issuer, subject).await;
        observe("find_identity", started);
        result
    }

    async fn link_identity(&self, identity: &LinkedIdentity) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.link_identity(identity).await;
        observe("link_identity", started);
        result
    }

    async fn list_identities(&self, user: &UserId) -> Result<Vec<LinkedIdentity>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_identities(user).await;
        observe("list_identities", started);
        result
    }

    async fn unlink_identity(&self, user: &UserId, issuer: &str, subject: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.unlink_identity(user, issuer, subject).await;
        observe("unlink_identity", started);
        result
    }

    async fn email_in_use(&self, email: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.email_in_use(email).await;
        observe("email_in_use", started);
        result
    }
}

#[async_trait]
impl KeyStore for TimedStore {
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_key(key).await;
        observe("insert_key", started);
        result
    }
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_keys().await;
        observe("list_keys", started);
        result
    }
    async fn delete_key(&self, kid: &Kid) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_key(kid).await;
        observe("delete_key", started);
        result
    }
}

#[async_trait]
impl RevocationStore for TimedStore {
    async fn revoke_access_token(
        &self,
        jti: &Jti,
        client_id: &ClientId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self
            .inner
            .revoke_access_token(jti, client_id, expires_at, now)
            .await;
        observe("revoke_access_token", started);
        result
    }
    async fn revocations_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Revocation>, StoreError> {
        let started = Instant::now();
        let result = self.inner.revocations_since(since, now).await;
        observe("revocations_since", started);
        result
    }
    async fn purge_revocations(&self, now: Timestamp) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.purge_revocations(now).await;
        observe("purge_revocations", started);
        result
    }
}

#[async_trait]
impl UserStore for TimedStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_user(user, password_hash).await;
        observe("insert_user", started);
        result
    }
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_user(id).await;
        observe("find_user", started);
        result
    }
    async fn find_user_by_username(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_user_by_username(username).await;
        observe("find_user_by_username", started);
        result
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_users().await;
        observe("list_users", started);
        result
    }
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_user(id).await;
        observe("delete_user", started);
        result
    }
    async fn set_password_hash(&self, id: &UserId, password_hash: &str) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.set_password_hash(id, password_hash).await;
        observe("set_password_hash", started);
        result
    }
    async fn update_profile(
        &self,
        id: &UserId,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.update_profile(id, email, name).await;
        observe("update_profile", started);
        result
    }
}

#[async_trait]
impl SessionStore for TimedStore {
    async fn insert_session(&self, id: &SecretHash, session: &Session) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_session(id, session).await;
        observe("insert_session", started);
        result
    }
    async fn find_session(&self, id: &SecretHash, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_session(id, now).await;
        observe("find_session", started);
        result
    }
    async fn delete_session(&self, id: &SecretHash) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_session(id).await;
        observe("delete_session", started);
        result
    }
    async fn delete_user_sessions(
        &self,
        user: &UserId,
        except: Option<&SecretHash>,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.delete_user_sessions(user, except).await;
        observe("delete_user_sessions", started);
        result
    }
    async fn purge_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.purge_sessions(now).await;
        observe("purge_sessions", started);
        result
    }
}

#[async_trait]
impl ConsentStore for TimedStore {
    async fn find_consent(&self, user: &UserId, client: &ClientId) -> Result<Option<ScopeSet>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_consent(user, client).await;
        observe("find_consent", started);
        result
    }
    async fn list_consents(&self, user: &UserId) -> Result<Vec<ConsentRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_consents(user).await;
        observe("list_consents", started);
        result
    }
    async fn has_offline_access(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.has_offline_access(user, client, now).await;
        observe("has_offline_access", started);
        result
    }
    async fn revoke_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.revoke_consent(user, client, now).await;
        observe("revoke_consent", started);
        result
    }
    async fn save_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        scopes: &ScopeSet,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.save_consent(user, client, scopes, now).await;
        observe("save_consent", started);
        result
    }
}

#[async_trait]
impl FamilyStore for TimedStore {
    async fn purge_families(&self, now: Timestamp, forget_before: Timestamp) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.purge_families(now, forget_before).await;
        observe("purge_families", started);
        result
    }

    async fn insert_family(&self, family: &Family) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_family(family).await;
        observe("insert_family", started);
        result
    }
    async fn find_family(&self, id: &FamilyId) -> Result<Option<Family>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_family(id).await;
        observe("find_family", started);
        result
    }
    async fn insert_family_with_code(
        &self,
        family: &Family,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_family_with_code(family, code).await;
        observe("insert_family_with_code", started);
        result
    }
    async fn find_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(AuthorizationCode, Family, bool)>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_code(hash).await;
        observe("find_code", started);
        result
    }
    async fn redeem_code(
        &self,
        hash: &SecretHash,
        refresh_token: Option<&RefreshTokenRecord>,
        now: Timestamp,
    ) -> Result<CodeRedemption, StoreError> {
        let started = Instant::now();
        let result = self.inner.redeem_code(hash, refresh_token, now).await;
        observe("redeem_code", started);
        result
    }
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_refresh_token(token).await;
        observe("insert_refresh_token", started);
        result
    }
    async fn find_refresh_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(RefreshTokenRecord, Family, bool)>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_refresh_token(hash).await;
        observe("find_refresh_token", started);
        result
    }
    async fn rotate_refresh_token(
        &self,
        hash: &SecretHash,
        successor: &RefreshTokenRecord,
        now: Timestamp,
    ) -> Result<RefreshRotation, StoreError> {
        let started = Instant::now();
        let result = self.inner.rotate_refresh_token(hash, successor, now).await;
        observe("rotate_refresh_token", started);
        result
    }
    async fn revoke_families_of(
        &self,
        user: Option<&UserId>,
        client: Option<&ClientId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.revoke_families_of(user, client, now).await;
        observe("revoke_families_of", started);
        result
    }
    async fn revoked_families_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(FamilyId, Timestamp)>, StoreError> {
        let started = Instant::now();
        let result = self.inner.revoked_families_since(since).await;
        observe("revoked_families_since", started);
        result
    }
    async fn revoke_family(&self, family: &FamilyId, now: Timestamp) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.revoke_family(family, now).await;
        observe("revoke_family", started);
        result
    }
}

#[async_trait]
impl DeviceStore for TimedStore {
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_device_authorization(device).await;
        observe("insert_device_authorization", started);
        result
    }
    async fn release_expired_user_code(
        &self,
        user_code: &UserCode,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.release_expired_user_code(user_code, now).await;
        observe("release_expired_user_code", started);
        result
    }
    async fn find_device_by_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_device_by_code(hash).await;
        observe("find_device_by_code", started);
        result
    }
    async fn find_device_by_user_code(
        &self,
        user_code: &UserCode,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let started = Instant::now();
        let result = self.inner.find_device_by_user_code(user_code).await;
        observe("find_device_by_user_code", started);
        result
    }
    async fn approve_device(
        &self,
        user_code: &UserCode,
        family: &FamilyId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.approve_device(user_code, family, now).await;
        observe("approve_device", started);
        result
    }
    async fn deny_device(&self, user_code: &UserCode, now: Timestamp) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.deny_device(user_code, now).await;
        observe("deny_device", started);
        result
    }
    async fn spend_device(&self, hash: &SecretHash, now: Timestamp) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.spend_device(hash, now).await;
        observe("spend_device", started);
        result
    }
    async fn user_code_failures(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let started = Instant::now();
        let result = self.inner.user_code_failures(subject, now, window).await;
        observe("user_code_failures", started);
        result
    }
    async fn record_user_code_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let started = Instant::now();
        let result = self.inner.record_user_code_failure(subject, now, window).await;
        observe("record_user_code_failure", started);
        result
    }
    async fn purge_device_codes(&self, now: Timestamp) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.purge_device_codes(now).await;
        observe("purge_device_codes", started);
        result
    }
}

#[async_trait]
impl AuditStore for TimedStore {
    async fn insert_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_audit_events(events).await;
        observe("insert_audit_events", started);
        result
    }
    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list_audit_events(query).await;
        observe("list_audit_events", started);
        result
    }
    async fn purge_audit_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.purge_audit_events(before).await;
        observe("purge_audit_events", started);
        result
    }
}

#[async_trait]
impl Store for TimedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.ping().await;
        observe("ping", started);
        result
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        self.inner.pool_status()
    }
}
