//! RFC 9068 access tokens: ES256-signed JWTs with `typ: at+jwt`.

use std::sync::Arc;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::jws;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::{FamilyId, Jti};
use crate::keys::Algorithm;
use crate::scope::ScopeSet;

/// The JOSE `typ` of access tokens (RFC 9068 §2.1), in its short and media-type forms.
pub const ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// Tokens whose `iat` is further in the future than this are refused (clock skew allowance).
const IAT_LEEWAY_SECS: i64 = 60;

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user, or for the client-credentials grant the client itself.
    pub sub: String,
    /// Audience: the resource server the token is for.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id, the handle for revocation.
    pub jti: String,
    /// Granted scopes, space-delimited; absent when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The grant (token family) the token was issued from, if any: revoking the grant
    /// revokes every access token that names it, without a write per token issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Further claims: the user's roles (under the configured name) when the `roles`
    /// scope was granted.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// The JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Its `jti` (how the audit trail names it).
    pub jti: Jti,
}

/// Signs an access token for `client_id` acting for `sub` with `scopes`.
pub fn issue(
    context: &Context,
    client_id: &str,
    sub: &str,
    scopes: &ScopeSet,
    grant: Option<&FamilyId>,
    extra: serde_json::Map<String, serde_json::Value>,
    now: Timestamp,
) -> Result<IssuedAccessToken, OAuthError> {
    let ttl = context.config.access_token_ttl;
    let jti = Jti::generate();
    let claims = AccessClaims {
        iss: context.config.issuer.clone(),
        sub: sub.to_owned(),
        aud: context.config.default_audience.clone(),
        client_id: client_id.to_owned(),
        exp: (now + ttl).as_secs(),
        iat: now.as_secs(),
        jti: jti.as_str().to_owned(),
        scope: scopes.to_string(),
        grant_id: grant.map(|g| g.as_str().to_owned()),
        extra,
    };
    let key = context
        .keys
        .signing_key(Algorithm::Es256, now)
        .ok_or_else(|| OAuthError::internal(NoSigningKey))?;
    let token = jws::sign(&key, "at+jwt", &claims).map_err(OAuthError::internal)?;
    Ok(IssuedAccessToken {
        token,
        expires_in: ttl.as_secs(),
        jti,
    })
}

#[derive(Debug, thiserror::Error)]
#[error("no active ES256 signing key")]
struct NoSigningKey;

/// Verifies an access token we issued: signature, type, issuer, expiry and revocation.
///
/// Verified claims are cached by the token's SHA-256 until the token expires, because ES256
/// verification costs three times a signature; the revocation list is still consulted on
/// every call, so a revoked token turns inactive at once.
pub fn verify(context: &Context, token: &str, now: Timestamp) -> Option<Arc<AccessClaims>> {
    if token.len() > jws::MAX_TOKEN_LEN {
        return None;
    }
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    let claims = match context.verified.get(&fingerprint, now) {
        Some(claims) => claims,
        None => {
            let expect = jws::Expect {
                typs: &ACCESS_TOKEN_TYPES,
                algs: &[Algorithm::Es256],
            };
            let payload = jws::verify(token, &context.keys, now, expect).ok()?;
            let claims: AccessClaims = serde_json::from_slice(&payload).ok()?;
            if claims.iss != context.config.issuer
                || claims.exp <= now.as_secs()
                || claims.iat > now.as_secs() + IAT_LEEWAY_SECS
            {
                return None;
            }
            let claims = Arc::new(claims);
            let expires_at = Timestamp::from_secs(claims.exp);
            context
                .verified
                .insert(fingerprint, Arc::clone(&claims), expires_at, now);
            claims
        }
    };
    let grant_revoked = claims
        .grant_id
        .as_deref()
        .is_some_and(|g| context.revocations.is_grant_revoked(g));
    if grant_revoked || context.revocations.is_revoked(&claims.jti) {
        return None;
    }
    Some(claims)
}
