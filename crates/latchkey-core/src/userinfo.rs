//! The UserInfo endpoint (OpenID Connect Core §5.3): claims about the user, released by
//! scope: `profile` gives `name` and `preferred_username`, `email` gives `email` and
//! `email_verified`.

use serde_json::{Map, Value, json};

use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::UserId;
use crate::scope::{OPENID, ScopeSet};
use crate::token::access;

/// Why a UserInfo request was refused (RFC 6750 §3.1).
#[derive(Debug)]
pub enum UserinfoError {
    /// No usable token: 401 `invalid_token`.
    InvalidToken,
    /// The token lacks `openid`: 403 `insufficient_scope`.
    InsufficientScope,
    /// Our side failed.
    Server(OAuthError),
}

/// The claims for the user a bearer access token was issued for.
pub async fn userinfo(context: &Context, bearer: &str, now: Timestamp) -> Result<Value, UserinfoError> {
    let claims = access::verify(context, bearer, now).ok_or(UserinfoError::InvalidToken)?;
    // The userinfo endpoint is a resource of this issuer (RFC 9068 §4): the token must be
    // meant for it, or for the default audience every access token here carries.
    if claims.aud != context.config.issuer && claims.aud != context.config.default_audience {
        return Err(UserinfoError::InvalidToken);
    }
    let scopes = ScopeSet::parse(&claims.scope).unwrap_or_default();
    if !scopes.contains(OPENID) {
        return Err(UserinfoError::InsufficientScope);
    }
    let user = context
        .store
        .find_user(&UserId::new(claims.sub.clone()))
        .await
        .map_err(|e| UserinfoError::Server(e.into()))?
        .ok_or(UserinfoError::InvalidToken)?;
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id.as_str()));
    if scopes.contains("profile") {
        out.insert("preferred_username".into(), json!(user.username));
        if let Some(name) = &user.name {
            out.insert("name".into(), json!(name));
        }
    }
    if scopes.contains("email") {
        if let Some(email) = &user.email {
            out.insert("email".into(), json!(email));
            // Latchkey does not verify addresses; say so rather than guess.
            out.insert("email_verified".into(), json!(false));
        }
    }
    Ok(Value::Object(out))
}
