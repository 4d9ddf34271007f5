//! The context every service runs in: configuration, store, clock, keys and the caches that
//! keep the database off the hot paths.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::{Actor, AuditEvent, AuditKind, AuditLog};
use crate::client::Client;
use crate::clock::{Clock, Timestamp};
use crate::device::PollTracker;
use crate::error::{OAuthError, StoreError};
use crate::id::ClientId;
use crate::keys::{self, KeyError, KeyRing, KeySealer, RotationPolicy};
use crate::scope::ScopeSet;
use crate::secret::{MasterKey, SecretHasher};
use crate::store::Store;
use crate::token::access::AccessClaims;
use crate::token::revocation::RevocationList;
use crate::ttl_cache::TtlCache;

/// The settings services need.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The issuer identifier (`iss`), without a trailing slash.
    pub issuer: String,
    /// `aud` of access tokens when the request names no resource.
    pub default_audience: String,
    /// The claim naming the user's roles in tokens granted the `roles` scope.
    pub roles_claim: String,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// How long a node may serve a cached client or miss a revocation made on another node.
    pub cache_ttl: Duration,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// How long a new signing key is published before it signs.
    pub key_prepublish: Duration,
    /// How often a node reloads signing keys, so a rotation done elsewhere reaches it.
    pub key_refresh: Duration,
    /// Lifetime of authorization codes.
    pub auth_code_ttl: Duration,
    /// Lifetime of ID tokens.
    pub id_token_ttl: Duration,
    /// Absolute lifetime of a refresh-token family.
    pub refresh_token_ttl: Duration,
    /// How long an unused refresh token lives.
    pub refresh_idle_ttl: Duration,
    /// How long a just-rotated refresh token may be presented again (concurrent refreshes)
    /// before its reuse revokes the family.
    pub refresh_grace: Duration,
    /// Lifetime of a browser session.
    pub session_ttl: Duration,
    /// Lifetime of device codes (RFC 8628).
    pub device_code_ttl: Duration,
    /// The polling interval devices are told to keep.
    pub device_poll_interval: Duration,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Facts about the deployment for the posture report.
    pub deployment: crate::doctor::Deployment,
    /// Token requests per second per client on each node (bursts of twice that); 0 is off.
    pub token_rate_limit: u32,
    /// Login attempts per minute per client address on each node; 0 is off.
    pub login_rate_limit: u32,
}

impl AuthConfig {
    /// The defaults of INTERFACE.md for an issuer (also the audience).
    pub fn with_defaults(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            default_audience: issuer.to_owned(),
            roles_claim: "roles".to_owned(),
            access_token_ttl: Duration::from_secs(900),
            cache_ttl: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(300),
            key_prepublish: Duration::from_secs(3600),
            key_refresh: Duration::from_secs(30),
            auth_code_ttl: Duration::from_secs(60),
            id_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            refresh_idle_ttl: Duration::from_secs(7 * 86_400),
            refresh_grace: Duration::from_secs(5),
            session_ttl: Duration::from_secs(12 * 3600),
            device_code_ttl: Duration::from_secs(600),
            device_poll_interval: Duration::from_secs(5),
            audit_retention: Duration::from_secs(90 * 86_400),
            deployment: crate::doctor::Deployment::default(),
            token_rate_limit: 1_000,
            login_rate_limit: 30,
        }
    }

    /// The rotation policy these settings imply: retired keys stay published for the longest
    /// token lifetime plus five minutes of leeway for clock skew and in-flight requests.
    pub fn rotation_policy(&self) -> RotationPolicy {
        RotationPolicy {
            prepublish: self.key_prepublish,
            retention: self.access_token_ttl.max(self.id_token_ttl) + Duration::from_secs(300),
        }
    }
}

const CLIENT_CACHE_CAPACITY: usize = 10_000;
/// How long a revoked or expired grant is kept: longer than any access token issued under
/// it can live (the lifetime setting is capped at 24 hours), as the revocation list needs.
const GRANT_MEMORY_SECS: i64 = 25 * 3600;
const VERIFIED_TOKEN_CACHE_CAPACITY: usize = 32_768;

/// Everything a service call needs, shared by all requests.
pub struct Context {
    /// Settings.
    pub config: AuthConfig,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Signing keys, decrypted once.
    pub keys: KeyRing,
    /// Hashes client secrets.
    pub hasher: SecretHasher,
    /// The audit trail.
    pub audit: AuditLog,
    /// Abuse limits (per node).
    pub limits: crate::ratelimit::Limits,
    /// Seals second-factor secrets and sign-in challenges.
    pub mfa_sealer: crate::mfa::SecretSealer,
    clients: TtlCache<ClientId, Option<Arc<Client>>>,
    restricted: TtlCache<(), Arc<ScopeSet>>,
    pub(crate) verified: TtlCache<[u8; 32], Arc<AccessClaims>>,
    pub(crate) revocations: RevocationList,
    pub(crate) polls: PollTracker,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Creates missing signing keys, loads the key ring and the revocation list.
    pub async fn start(
        config: AuthConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: &MasterKey,
    ) -> Result<Self, KeyError> {
        let sealer = Arc::new(KeySealer::new(master)?);
        let now = clock.now();
        let created = keys::ensure_signing_keys(store.as_ref(), &sealer, now).await?;
        let ring = KeyRing::new(sealer, config.rotation_policy());
        ring.refresh(store.as_ref()).await?;
        let audit = AuditLog::start(Arc::clone(&store));
        for key in &created {
            audit
                .record(
                    AuditEvent::new(AuditKind::KeyCreated, now, &Actor::System)
                        .with("kid", key.kid.to_string())
                        .with("alg", key.alg.to_string()),
                )
                .await;
        }
        let context = Self {
            audit,
            limits: crate::ratelimit::Limits::new(config.token_rate_limit, config.login_rate_limit),
            hasher: SecretHasher::new(master),
            mfa_sealer: crate::mfa::SecretSealer::new(master),
            keys: ring,
            clients: TtlCache::new(CLIENT_CACHE_CAPACITY),
            restricted: TtlCache::new(1),
            verified: TtlCache::new(VERIFIED_TOKEN_CACHE_CAPACITY),
            revocations: RevocationList::default(),
            polls: PollTracker::default(),
            config,
            store,
            clock,
        };
        context.revocations.sync(context.store.as_ref(), now).await?;
        Ok(context)
    }

    /// Whether an access token with this `jti` (and grant) is revoked, as this node knows.
    pub fn is_access_token_revoked(&self, jti: &str, grant: Option<&str>) -> bool {
        self.revocations.is_revoked(jti) || grant.is_some_and(|g| self.revocations.is_grant_revoked(g))
    }

    /// The current time, read once per request.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The client with `id`, from the cache (stale by at most `cache_ttl`) or the store.
    pub async fn find_client(
        &self,
        id: &ClientId,
        now: Timestamp,
    ) -> Result<Option<Arc<Client>>, OAuthError> {
        if let Some(cached) = self.clients.get(id, now) {
            return Ok(cached);
        }
        let found = self.store.find_client(id).await?.map(Arc::new);
        self.clients
            .insert(id.clone(), found.clone(), now + self.config.cache_ttl, now);
        Ok(found)
    }

    /// The restricted scopes, from the cache (stale by at most `cache_ttl` for changes made
    /// on other nodes) or the store.
    pub async fn restricted_scopes(&self, now: Timestamp) -> Result<Arc<ScopeSet>, OAuthError> {
        if let Some(cached) = self.restricted.get(&(), now) {
            return Ok(cached);
        }
        let found = Arc::new(self.store.restricted_scopes().await?);
        self.restricted
            .insert((), Arc::clone(&found), now + self.config.cache_ttl, now);
        Ok(found)
    }

    /// Drops this node's cached restricted scopes after a change here.
    pub fn forget_restricted_scopes(&self) {
        self.restricted.remove(&());
    }

    /// Drops this node's cached copy of a client changed here (other nodes see the change
    /// within `cache_ttl`).
    pub fn forget_client(&self, id: &ClientId) {
        self.clients.remove(id);
    }

    /// Pulls revocations made by other nodes since the last sync.
    pub async fn sync_revocations(&self) -> Result<(), StoreError> {
        self.revocations.sync(self.store.as_ref(), self.now()).await
    }

    /// Picks up keys rotated elsewhere.
    pub async fn refresh_keys(&self) -> Result<(), KeyError> {
        self.keys.refresh(self.store.as_ref()).await
    }

    /// Deletes what has expired: revocations of expired tokens and keys past retention.
    pub async fn purge_expired(&self) -> Result<(), StoreError> {
        let now = self.now();
        let purged = self.store.purge_revocations(now).await?;
        let sessions = self.store.purge_sessions(now).await?;
        let devices = self.store.purge_device_codes(now).await?;
        tracing::debug!(devices, "purged expired device codes");
        let cutoff = Timestamp::from_secs(
            now.as_secs()
                .saturating_sub(i64::try_from(self.config.audit_retention.as_secs()).unwrap_or(i64::MAX)),
        );
        let events = self.store.purge_audit_events(cutoff).await?;
        let grants = self
            .store
            .purge_families(now, Timestamp::from_secs(now.as_secs() - GRANT_MEMORY_SECS))
            .await?;
        tracing::debug!(grants, "purged expired codes, refresh tokens and grants");
        tracing::debug!(events, "purged audit events past their retention");
        tracing::debug!(sessions, "purged expired sessions");
        let expired = self.keys.expired(now);
        for kid in &expired {
            self.store.delete_key(kid).await?;
            self.audit
                .record(
                    AuditEvent::new(AuditKind::KeyDeleted, now, &Actor::System).with("kid", kid.to_string()),
                )
                .await;
        }
        if !expired.is_empty() {
            self.refresh_keys()
                .await
                .map_err(|e| StoreError::Other(Box::new(e)))?;
        }
        tracing::debug!(purged, "purged expired revocations");
        Ok(())
    }
}
