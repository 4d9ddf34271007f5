//! What a user has granted: every client they approved, with the scopes, and withdrawing
//! that approval, which revokes every token the client holds for them.

use crate::audit::{Actor, AuditEvent, AuditKind};
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
    /// When it was last approved.
    pub updated_at: Timestamp,
}

/// The user's grants, most recent first (clients deleted since are left out).
pub async fn list_grants(context: &Context, user: &UserId) -> Result<Vec<GrantView>, OAuthError> {
    let mut out = Vec::new();
    for (client_id, scopes, updated_at) in context.store.list_consents(user).await? {
        let Some(client) = context.store.find_client(&client_id).await? else {
            continue;
        };
        out.push(GrantView {
            client_id,
            client_name: client.name,
            scopes: describe(context, &scopes).await?,
            updated_at,
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
