//! What a user has granted: every client they approved, with the scopes, and withdrawing
//! that approval, which revokes every token the client holds for them.

use crate::audit::{Actor, AuditEvent, AuditKind, AuditQuery};
use crate::authorize::describe;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::{ClientId, UserId};
use crate::store::ScopeDescription;

/// One client a user approved.
#[derive(Debug)]
pub struct GrantView {
    /// The client's id.
    pub client_id: ClientId,
    /// Its name.
    pub client_name: String,
    /// The approved scopes, described.
    pub scopes: Vec<ScopeDescription>,
    /// When the user first approved it.
    pub first_granted: Timestamp,
    /// When a token was last issued under it, if within the audit trail's retention.
    pub last_used: Option<Timestamp>,
    /// Whether the client holds a live refresh token (it can act while the user is away).
    pub offline_access: bool,
}

/// The user's grants, most recent first (clients deleted since are left out).
pub async fn list_grants(
    context: &Context,
    user: &UserId,
    now: Timestamp,
) -> Result<Vec<GrantView>, OAuthError> {
    let mut out = Vec::new();
    for consent in context.store.list_consents(user).await? {
        let Some(client) = context.store.find_client(&consent.client_id).await? else {
            continue;
        };
        let last_used = context
            .store
            .list_audit_events(&AuditQuery {
                subject: Some(user.clone()),
                client_id: Some(consent.client_id.clone()),
                kind: Some(AuditKind::TokenIssued),
                limit: 1,
                ..AuditQuery::default()
            })
            .await?
            .first()
            .map(|event| event.at);
        out.push(GrantView {
            offline_access: context
                .store
                .has_offline_access(user, &consent.client_id, now)
                .await?,
            client_id: consent.client_id,
            client_name: client.name,
            scopes: describe(context, &consent.scopes).await?,
            first_granted: consent.first_granted,
            last_used,
        });
    }
    Ok(out)
}

/// Withdraws the user's approval of `client`: its refresh tokens stop working, its access
/// tokens turn inactive (at once on this node), and the next request asks again.
pub async fn revoke_grant(
    context: &Context,
    user: &UserId,
    client: &ClientId,
    now: Timestamp,
) -> Result<(), OAuthError> {
    context.store.revoke_consent(user, client, now).await?;
    context.revocations.sync(context.store.as_ref(), now).await?;
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::GrantRevoked, now, &Actor::User(user.clone()))
                .subject(user)
                .client(client),
        )
        .await;
    Ok(())
}

/// Revokes every token of every grant of `user` and/or `client` (an operator's action; the
/// consents stay, so the user is not asked again). Returns how many grants were revoked.
pub async fn revoke_all_of(
    context: &Context,
    user: Option<&UserId>,
    client: Option<&ClientId>,
    actor: &Actor,
    now: Timestamp,
) -> Result<u64, OAuthError> {
    let revoked = context.store.revoke_families_of(user, client, now).await?;
    context.revocations.sync(context.store.as_ref(), now).await?;
    let mut event = AuditEvent::new(AuditKind::GrantRevoked, now, actor).with("grants", revoked);
    if let Some(user) = user {
        event = event.subject(user);
    }
    if let Some(client) = client {
        event = event.client(client);
    }
    context.audit.record(event).await;
    Ok(revoked)
}

/// Revokes one grant (token family) by its id, as it appears in access tokens' `grant_id`.
/// Returns `false` if there is no such grant.
pub async fn revoke_by_id(
    context: &Context,
    grant: &crate::id::FamilyId,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, OAuthError> {
    let Some(family) = context.store.find_family(grant).await? else {
        return Ok(false);
    };
    context.store.revoke_family(&family.id, now).await?;
    context.revocations.sync(context.store.as_ref(), now).await?;
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::GrantRevoked, now, actor)
                .subject(&family.user_id)
                .client(&family.client_id)
                .with("grant_id", family.id.as_str()),
        )
        .await;
    Ok(true)
}
