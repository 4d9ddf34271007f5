//! Token revocation (RFC 7009) and the deny list that makes a revoked JWT inactive.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use super::access;
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::{OAuthError, StoreError};
use crate::id::{ClientId, Jti, UserId};
use crate::params::Params;
use crate::secret::OpaqueToken;
use crate::store::Store;

/// How far back each sync looks again, so a revocation committed late or stamped by a node
/// with a slightly slow clock is not missed. Re-reading is harmless: the list is a set.
const SYNC_OVERLAP: Duration = Duration::from_secs(60);

/// The revoked, not yet expired access tokens, held in memory so introspection never
/// waits on the database.
#[derive(Debug, Default)]
pub struct RevocationList {
    revoked: RwLock<HashMap<String, Timestamp>>,
    /// Revoked grants (token families), remembered until no token naming them can be live.
    grants: RwLock<HashMap<String, Timestamp>>,
    synced_at: Mutex<Option<Timestamp>>,
}

/// How long a revoked grant is remembered: longer than any access token lives (the
/// lifetime setting is capped at 24 hours).
const GRANT_MEMORY: Duration = Duration::from_secs(25 * 3600);

impl RevocationList {
    /// Whether the token with this `jti` is revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .map(|set| set.contains_key(jti))
            .unwrap_or(true)
    }

    /// Whether the grant (token family) with this id is revoked.
    pub fn is_grant_revoked(&self, grant: &str) -> bool {
        self.grants
            .read()
            .map(|set| set.contains_key(grant))
            .unwrap_or(true)
    }

    fn add(&self, jti: String, expires_at: Timestamp) {
        if let Ok(mut set) = self.revoked.write() {
            set.insert(jti, expires_at);
        }
    }

    /// Loads revocations recorded since the last sync (by any node) and forgets expired ones.
    pub async fn sync(&self, store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
        let since = self
            .synced_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .map_or(Timestamp::from_secs(0), |at| at - SYNC_OVERLAP);
        let fresh = store.revocations_since(since, now).await?;
        let grants = store
            .revoked_families_since(since.max(now - GRANT_MEMORY))
            .await?;
        if let Ok(mut set) = self.grants.write() {
            set.retain(|_, forget_at| *forget_at > now);
            for (family, revoked_at) in grants {
                set.insert(family.as_str().to_owned(), revoked_at + GRANT_MEMORY);
            }
        }
        if let Ok(mut set) = self.revoked.write() {
            set.retain(|_, expires_at| *expires_at > now);
            for revocation in fresh {
                set.insert(revocation.jti.as_str().to_owned(), revocation.expires_at);
            }
        }
        if let Ok(mut at) = self.synced_at.lock() {
            *at = Some(now);
        }
        Ok(())
    }
}

/// Revokes `token` for `caller` (RFC 7009 §2.1): an access token we issued, or a refresh
/// token (whatever `token_type_hint` says; the hint only saves a lookup). Invalid, expired and unknown tokens are
/// accepted silently (§2.2); a token issued to another client is refused.
pub async fn revoke(
    context: &Context,
    caller: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<(), OAuthError> {
    let token = params.require("token")?;
    let Some(claims) = access::verify(context, token, now) else {
        return revoke_refresh_token(context, caller, token, now).await;
    };
    if claims.client_id != caller.id.as_str() {
        return Err(OAuthError::UnauthorizedClient(
            "this token was issued to another client; a client may revoke only its own tokens".into(),
        ));
    }
    let expires_at = Timestamp::from_secs(claims.exp);
    context
        .store
        .revoke_access_token(
            &Jti::new(claims.jti.clone()),
            &ClientId::new(claims.client_id.clone()),
            expires_at,
            now,
        )
        .await?;
    context.revocations.add(claims.jti.clone(), expires_at);
    let mut event = AuditEvent::new(AuditKind::TokenRevoked, now, &Actor::Client(caller.id.clone()))
        .client(&caller.id)
        .with("token_type", "access_token")
        .with("jti", claims.jti.as_str());
    if claims.sub != claims.client_id {
        event = event.subject(&UserId::new(claims.sub.clone()));
    }
    context.audit.record(event).await;
    Ok(())
}

/// Revokes a refresh token and, as RFC 7009 §2.1 recommends, every access token of the
/// same grant: the whole token family. Unknown values are fine (§2.2).
async fn revoke_refresh_token(
    context: &Context,
    caller: &Client,
    token: &str,
    now: Timestamp,
) -> Result<(), OAuthError> {
    if token.len() > 128 {
        return Ok(());
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(token));
    let Some((_, family, _)) = context.store.find_refresh_token(&hash).await? else {
        return Ok(());
    };
    if family.client_id != caller.id {
        return Err(OAuthError::UnauthorizedClient(
            "this token was issued to another client; a client may revoke only its own tokens".into(),
        ));
    }
    context.store.revoke_family(&family.id, now).await?;
    context.revocations.sync(context.store.as_ref(), now).await?;
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::TokenRevoked, now, &Actor::Client(caller.id.clone()))
                .client(&caller.id)
                .subject(&family.user_id)
                .with("token_type", "refresh_token")
                .with("grant_id", family.id.as_str()),
        )
        .await;
    Ok(())
}
