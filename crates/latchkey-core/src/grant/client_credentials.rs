//! The client-credentials grant (RFC 6749 §4.4): a confidential client gets a token for
//! itself. No refresh token (§4.4.3), no user, so no `openid` or `offline_access`.

use super::TokenResponse;
use crate::audit;
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::scope::{Scope, ScopeSet};
use crate::token::access;

/// Issues an access token for the client itself.
pub(super) async fn exchange(
    context: &Context,
    client: &Client,
    requested: Option<&ScopeSet>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let scopes = granted_scopes(&client.scopes, requested)?;
    let token = access::issue(
        context,
        client.id.as_str(),
        client.id.as_str(),
        &scopes,
        None,
        serde_json::Map::new(),
        now,
    )?;
    audit::token_issued(
        context,
        "client_credentials",
        &client.id,
        None,
        &scopes,
        &token.jti,
        None,
        now,
    )
    .await;
    Ok(TokenResponse {
        access_token: token.token,
        token_type: "Bearer",
        expires_in: token.expires_in,
        scope: Some(scopes.to_string()).filter(|s| !s.is_empty()),
        refresh_token: None,
        id_token: None,
    })
}

/// The scopes to grant: the request if it is within what the client may have, else
/// `invalid_scope`; without a request, the client's registered scopes (RFC 6749 §3.3),
/// less those that need a user.
pub(crate) fn granted_scopes(
    allowed: &ScopeSet,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.filtered(|s| !s.needs_user()));
    };
    if let Some(scope) = requested.iter().find(|s| s.needs_user()) {
        return Err(OAuthError::InvalidScope(
            format!("scope {scope} needs a user and is not available with client_credentials").into(),
        ));
    }
    if !requested.is_subset_of(allowed) {
        // Name the excess scopes to help the developer, but only those that look like
        // ordinary scope names: a description never echoes markup or other oddities.
        let excess: Vec<&str> = requested
            .excess_over(allowed)
            .map(Scope::as_str)
            .filter(|s| {
                s.len() <= 64
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b":._-/".contains(&b))
            })
            .collect();
        let named = if excess.is_empty() {
            String::new()
        } else {
            format!(": {}", excess.join(" "))
        };
        return Err(OAuthError::InvalidScope(
            format!("the request asks for scopes this client is not registered for{named}").into(),
        ));
    }
    Ok(requested.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap_or_default()
    }

    #[test]
    fn no_request_grants_the_registered_scopes_without_user_scopes() {
        let granted = granted_scopes(&set("notes:read notes:write openid"), None);
        assert_eq!(
            granted.map(|s| s.to_string()).ok().as_deref(),
            Some("notes:read notes:write")
        );
    }

    #[test]
    fn a_subset_is_granted_as_asked() {
        let granted = granted_scopes(&set("a b c"), Some(&set("b")));
        assert_eq!(granted.map(|s| s.to_string()).ok().as_deref(), Some("b"));
    }

    #[test]
    fn over_asking_is_invalid_scope_naming_the_excess() {
        let err = granted_scopes(&set("a b"), Some(&set("a admin")));
        assert!(matches!(err, Err(OAuthError::InvalidScope(d)) if d.ends_with("admin")));
    }

    #[test]
    fn openid_is_refused_without_a_user() {
        let err = granted_scopes(&set("openid a"), Some(&set("openid")));
        assert!(matches!(err, Err(OAuthError::InvalidScope(_))));
    }
}
