//! The refresh-token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).
//!
//! Every use rotates the token. A rotated token presented again within a short grace window
//! (concurrent refreshes from two tabs, a retry after a lost response) gets a sibling in
//! the same family instead of logging the user out; after the window, reuse is taken as
//! theft and revokes the whole family, including every sibling issued in the window.

use super::TokenResponse;
use super::issue::{new_refresh_token, respond, revoke_family};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::RefreshRotation;
use crate::scope::ScopeSet;
use crate::secret::OpaqueToken;

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::InvalidGrant(description.into())
}

/// Rotates a refresh token into fresh tokens.
pub(super) async fn exchange(
    context: &Context,
    client: &Client,
    refresh_token: &str,
    requested: Option<&ScopeSet>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    if refresh_token.len() > 128 {
        return Err(invalid_grant("the refresh token is invalid"));
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(refresh_token));
    // Validate before rotating: a refused request gives the client nothing new (RFC 6749
    // §5.2), so it must not use the token up either, or the client's retry would look
    // like theft.
    let Some((record, family, _)) = context.store.find_refresh_token(&hash).await? else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    if family.client_id != client.id {
        revoke_family(
            context,
            &family.id,
            "refresh token presented by another client",
            now,
        )
        .await?;
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    if family.revoked {
        return Err(invalid_grant("the refresh token has been revoked"));
    }
    if now >= family.expires_at || now >= record.idle_expires_at {
        return Err(invalid_grant("the refresh token has expired"));
    }
    // RFC 6749 §6: judged against the scope the user granted, which is also the default;
    // a restricted scope whose role the user has lost since is no longer issued.
    let scopes = match requested {
        None => family.scopes.clone(),
        Some(requested) if requested.is_subset_of(&family.scopes) => requested.clone(),
        Some(_) => {
            return Err(OAuthError::InvalidScope(
                "a refresh may narrow the scope, never widen it beyond what the user granted".into(),
            ));
        }
    };
    let scopes = crate::roles::permitted(context, &family.user_id, &scopes, now).await?;
    // The successor is stored in the same atomic step that rotates the presented token.
    let successor = new_refresh_token(context, &family, now);
    match context
        .store
        .rotate_refresh_token(&hash, &successor.record, now)
        .await?
    {
        RefreshRotation::Invalid => return Err(invalid_grant("the refresh token is invalid")),
        RefreshRotation::Fresh { family_revoked: true } => {
            return Err(invalid_grant("the refresh token has been revoked"));
        }
        RefreshRotation::Fresh {
            family_revoked: false,
        } => {}
        RefreshRotation::AlreadyRotated { at, family_revoked } => {
            // A grace window of zero turns it off (timestamps are whole seconds).
            let grace = context.config.refresh_grace;
            let within_grace = !grace.is_zero() && now <= at + grace;
            if !within_grace || family_revoked {
                if !family_revoked {
                    revoke_family(
                        context,
                        &family.id,
                        "refresh token reused after the grace window",
                        now,
                    )
                    .await?;
                    context
                        .audit
                        .record(
                            AuditEvent::new(
                                AuditKind::RefreshReuseDetected,
                                now,
                                &Actor::Client(client.id.clone()),
                            )
                            .client(&client.id)
                            .subject(&family.user_id)
                            .with("grant_id", family.id.as_str())
                            .with("rotated_at", at.as_secs()),
                        )
                        .await;
                }
                return Err(invalid_grant(
                    "the refresh token was already used; the whole grant is revoked (reuse detection)",
                ));
            }
            // Within the grace window: a sibling in the same family.
            context.store.insert_refresh_token(&successor.record).await?;
        }
    }
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::RefreshRotated, now, &Actor::Client(client.id.clone()))
                .client(&client.id)
                .subject(&family.user_id)
                .with("grant_id", family.id.as_str()),
        )
        .await;
    respond(
        context,
        GrantType::RefreshToken,
        client,
        &family,
        &scopes,
        None,
        Some(successor.token),
        now,
    )
    .await
}
