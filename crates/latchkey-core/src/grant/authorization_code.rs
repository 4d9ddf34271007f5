//! The authorization-code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). A code is
//! single-use: a second redemption fails and revokes everything the first one issued.

use super::TokenResponse;
use super::issue::{new_refresh_token, respond, revoke_family};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::{AuthorizationCode, CodeRedemption};
use crate::id::FamilyId;
use crate::secret::OpaqueToken;

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::InvalidGrant(description.into())
}

/// Redeems a code for tokens.
pub(super) async fn exchange(
    context: &Context,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    if code.len() > 128 {
        return Err(invalid_grant("the authorization code is invalid or expired"));
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(code));
    // Validate first (a read), then spend the code and store the refresh token in one
    // atomic write that only one concurrent redemption can win.
    let Some((code, family, used)) = context.store.find_code(&hash).await? else {
        return Err(invalid_grant("the authorization code is invalid or expired"));
    };
    if used {
        return Err(replayed(context, client, &family.id, now).await);
    }
    if family.client_id != client.id {
        // A code stolen by another registered client: burn the family too.
        revoke_family(context, &family.id, "code presented by another client", now).await?;
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if family.revoked || now >= code.expires_at {
        return Err(invalid_grant("the authorization code is invalid or expired"));
    }
    if let Err(refused) = check_binding(&code, client, redirect_uri, code_verifier) {
        // A failed attempt spends the code: whoever holds it without the right verifier
        // or redirect URI gets one try, not many.
        context.store.redeem_code(&hash, None, now).await?;
        return Err(refused);
    }
    let refresh = client
        .allows(GrantType::RefreshToken)
        .then(|| new_refresh_token(context, &family, now));
    match context
        .store
        .redeem_code(&hash, refresh.as_ref().map(|r| &r.record), now)
        .await?
    {
        CodeRedemption::Redeemed => {}
        CodeRedemption::Replayed(family_id) => return Err(replayed(context, client, &family_id, now).await),
        CodeRedemption::Invalid => return Err(invalid_grant("the authorization code is invalid or expired")),
    }
    respond(
        context,
        GrantType::AuthorizationCode,
        client,
        &family,
        &family.scopes,
        code.nonce.as_deref(),
        refresh.map(|r| r.token),
        now,
    )
    .await
}

/// A second redemption: RFC 6749 §4.1.2 says revoke everything the first one issued.
async fn replayed(context: &Context, client: &Client, family: &FamilyId, now: Timestamp) -> OAuthError {
    if let Err(e) = revoke_family(context, family, "authorization code replayed", now).await {
        return e;
    }
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::CodeReplayed, now, &Actor::Client(client.id.clone()))
                .client(&client.id)
                .with("grant_id", family.as_str()),
        )
        .await;
    invalid_grant("the authorization code was already used; every token issued from it is now revoked")
}

/// The checks that bind a code to the request that redeems it: the redirect URI
/// (RFC 6749 §4.1.3) and the PKCE verifier (RFC 7636 §4.6).
fn check_binding(
    code: &AuthorizationCode,
    client: &Client,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<(), OAuthError> {
    // RFC 6749 §4.1.3: required and identical if the authorization request included it.
    match redirect_uri {
        Some(given) if given != code.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        None if code.redirect_given => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required because the authorization request included it",
            ));
        }
        _ => {}
    }
    match (&code.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if challenge.is_satisfied_by(verifier) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => Err(invalid_grant(
            "code_verifier is required: the code was issued with PKCE",
        )),
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §4.8.2).
        (None, Some(_)) => Err(invalid_grant(
            "the code was issued without a code_challenge; code_verifier is not accepted",
        )),
        (None, None) if client.is_public() => Err(invalid_grant("public clients must use PKCE")),
        (None, None) => Ok(()),
    }
}
