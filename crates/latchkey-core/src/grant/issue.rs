//! Issuing the tokens of a token family: an access token (recorded so revoking the family
//! reaches it), a refresh token when the client is registered for them, and an ID token
//! when `openid` was granted.

use super::TokenResponse;
use crate::audit;
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::{Family, RefreshTokenRecord};
use crate::id::FamilyId;
use crate::scope::{OPENID, ScopeSet};
use crate::secret::OpaqueToken;
use crate::token::{access, id_token};

/// A refresh token about to be issued: the value for the client and the record to store.
pub(crate) struct NewRefreshToken {
    pub(crate) token: OpaqueToken,
    pub(crate) record: RefreshTokenRecord,
}

/// Mints a refresh token for `family` (not yet stored).
pub(crate) fn new_refresh_token(context: &Context, family: &Family, now: Timestamp) -> NewRefreshToken {
    let token = OpaqueToken::generate();
    let record = RefreshTokenRecord {
        hash: context.hasher.hash_token(&token),
        family_id: family.id.clone(),
        // The refresh token carries the whole grant; a narrower access token does not
        // shrink what later refreshes may ask for (RFC 6749 §6).
        scopes: family.scopes.clone(),
        issued_at: now,
        idle_expires_at: (now + context.config.refresh_idle_ttl).min(family.expires_at),
    };
    NewRefreshToken { token, record }
}

/// Issues the tokens for `family` with `scopes` (the family's, or a narrower set),
/// storing a new refresh token when the client is registered for them.
pub(crate) async fn tokens_for_family(
    context: &Context,
    grant_type: GrantType,
    client: &Client,
    family: &Family,
    scopes: &ScopeSet,
    nonce: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let refresh_token = if client.allows(GrantType::RefreshToken) {
        let new = new_refresh_token(context, family, now);
        context.store.insert_refresh_token(&new.record).await?;
        Some(new.token)
    } else {
        None
    };
    respond(
        context,
        grant_type,
        client,
        family,
        scopes,
        nonce,
        refresh_token,
        now,
    )
    .await
}

/// The token response for `family`: a fresh access token, the refresh token already
/// stored (if any), and an ID token when `openid` was granted.
#[allow(clippy::too_many_arguments)] // the facts of one response, each needed
pub(crate) async fn respond(
    context: &Context,
    grant_type: GrantType,
    client: &Client,
    family: &Family,
    scopes: &ScopeSet,
    nonce: Option<&str>,
    refresh_token: Option<OpaqueToken>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let extra = crate::roles::claims(context, &family.user_id, scopes).await?;
    let access = access::issue(
        context,
        client.id.as_str(),
        family.user_id.as_str(),
        scopes,
        Some(&family.id),
        extra.clone(),
        now,
    )?;
    audit::token_issued(
        context,
        grant_type.as_str(),
        &client.id,
        Some(&family.user_id),
        scopes,
        &access.jti,
        Some(&family.id),
        now,
    )
    .await;
    let id_token = if scopes.contains(OPENID) {
        Some(id_token::issue(
            context,
            client,
            family.user_id.as_str(),
            id_token::SignIn {
                time: family.auth_time,
                amr: &family.amr,
            },
            nonce,
            Some(&access.token),
            &extra,
            now,
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        scope: Some(scopes.to_string()).filter(|s| !s.is_empty()),
        refresh_token: refresh_token.map(|token| token.expose().to_owned()),
        id_token,
    })
}

/// Revokes a family and makes the revocation visible on this node at once.
pub(crate) async fn revoke_family(
    context: &Context,
    family: &FamilyId,
    why: &str,
    now: Timestamp,
) -> Result<(), OAuthError> {
    context.store.revoke_family(family, now).await?;
    context.revocations.sync(context.store.as_ref(), now).await?;
    tracing::warn!(%family, why, "token family revoked");
    Ok(())
}
