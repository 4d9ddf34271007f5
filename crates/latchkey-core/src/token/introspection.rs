//! Token introspection (RFC 7662): any authenticated confidential client may ask whether a
//! token is active and what it carries.

use serde::Serialize;

use super::access;
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::params::Params;
use crate::secret::OpaqueToken;

/// The introspection response (RFC 7662 §2.2). Inactive tokens say only `active: false`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct IntrospectionResponse {
    /// Whether the token is active.
    pub active: bool,
    /// Granted scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Token type: `Bearer` for access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The access token's further claims (the user's roles, with the `roles` scope).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Introspects `token` for `caller`: one of our access tokens, or a refresh token of the
/// caller's own. Unknown, forged, expired, revoked and rotated tokens are all simply
/// inactive (RFC 7662 §2.2); `token_type_hint` is optional and not needed.
pub async fn introspect(
    context: &Context,
    caller: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<IntrospectionResponse, OAuthError> {
    if caller.is_public() {
        return Err(OAuthError::invalid_client(
            "public clients cannot introspect tokens; introspection needs a confidential client",
        ));
    }
    let token = params.require("token")?;
    if let Some(claims) = access::verify(context, token, now) {
        return Ok(IntrospectionResponse {
            active: true,
            scope: Some(claims.scope.clone()).filter(|s| !s.is_empty()),
            client_id: Some(claims.client_id.clone()),
            sub: Some(claims.sub.clone()),
            aud: Some(claims.aud.clone()),
            iss: Some(claims.iss.clone()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            token_type: Some("Bearer"),
            jti: Some(claims.jti.clone()),
            extra: claims.extra.clone(),
        });
    }
    if token.len() > 128 {
        return Ok(IntrospectionResponse::default());
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(token));
    let Some((record, family, rotated)) = context.store.find_refresh_token(&hash).await? else {
        return Ok(IntrospectionResponse::default());
    };
    let expires_at = record.idle_expires_at.min(family.expires_at);
    // Only its own client learns about a refresh token; a rotated one is spent.
    if family.client_id != caller.id || family.revoked || rotated || now >= expires_at {
        return Ok(IntrospectionResponse::default());
    }
    Ok(IntrospectionResponse {
        active: true,
        scope: Some(record.scopes.to_string()).filter(|s| !s.is_empty()),
        client_id: Some(family.client_id.to_string()),
        sub: Some(family.user_id.to_string()),
        aud: None,
        iss: Some(context.config.issuer.clone()),
        exp: Some(expires_at.as_secs()),
        iat: Some(record.issued_at.as_secs()),
        token_type: Some("refresh_token"),
        jti: None,
        extra: serde_json::Map::new(),
    })
}
