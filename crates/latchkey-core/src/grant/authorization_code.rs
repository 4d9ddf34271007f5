//! The authorization-code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6). A code is
//! single-use: a second redemption fails and revokes everything the first one issued.

use super::TokenResponse;
use super::issue::{revoke_family, tokens_for_family};
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::CodeRedemption;
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
    let (code, family) = match context.store.redeem_code(&hash, now).await? {
        CodeRedemption::Redeemed(redeemed) => *redeemed,
        CodeRedemption::Invalid => return Err(invalid_grant("the authorization code is invalid or expired")),
        CodeRedemption::Replayed(family_id) => {
            revoke_family(context, &family_id, "authorization code replayed", now).await?;
            return Err(invalid_grant(
                "the authorization code was already used; every token issued from it is now revoked",
            ));
        }
    };
    if family.client_id != client.id {
        // A code stolen by another registered client: burn the family too.
        revoke_family(context, &family.id, "code presented by another client", now).await?;
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
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
        (Some(challenge), Some(verifier)) if challenge.is_satisfied_by(verifier) => {}
        (Some(_), Some(_)) => return Err(invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => {
            return Err(invalid_grant(
                "code_verifier is required: the code was issued with PKCE",
            ));
        }
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §4.8.2).
        (None, Some(_)) => {
            return Err(invalid_grant(
                "the code was issued without a code_challenge; code_verifier is not accepted",
            ));
        }
        (None, None) if client.is_public() => {
            return Err(invalid_grant("public clients must use PKCE"));
        }
        (None, None) => {}
    }
    tokens_for_family(
        context,
        client,
        &family,
        &family.scopes,
        code.nonce.as_deref(),
        now,
    )
    .await
}
