//! OpenID Connect ID tokens (Core §2): signed with the client's registered algorithm,
//! RS256 unless it chose ES256.

use aws_lc_rs::digest;
use serde::Serialize;

use super::jws;
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::secret::b64;

/// The claims of an ID token.
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    /// Issuer.
    pub iss: &'a str,
    /// The user's stable id.
    pub sub: &'a str,
    /// The client.
    pub aud: &'a str,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user last authenticated.
    pub auth_time: i64,
    /// How (RFC 8176): `pwd`, or `pwd otp mfa` after a second step.
    pub amr: Vec<&'a str>,
    /// The authentication context class: `urn:latchkey:acr:mfa` after a second step,
    /// `urn:latchkey:acr:pwd` otherwise.
    pub acr: &'a str,
    /// The `nonce` of the authorization request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    /// Left half of SHA-256 of the access token issued with it (Core §3.1.3.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The authorized party: the client.
    pub azp: &'a str,
    /// Further claims (the user's roles with the `roles` scope).
    #[serde(flatten)]
    pub extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token (both ES256 and
/// RS256 use SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, access_token.as_bytes());
    b64(digest.as_ref().get(..16).unwrap_or_default())
}

/// When and how the user signed in.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// `auth_time`.
    pub time: Timestamp,
    /// RFC 8176 `amr` values, space-separated.
    pub amr: &'a str,
}

/// Signs an ID token for `client` about `sub`.
#[allow(clippy::too_many_arguments)] // the facts of one ID token, each needed
pub fn issue(
    context: &Context,
    client: &Client,
    sub: &str,
    sign_in: SignIn<'_>,
    nonce: Option<&str>,
    access_token: Option<&str>,
    extra: &serde_json::Map<String, serde_json::Value>,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let claims = IdTokenClaims {
        iss: &context.config.issuer,
        sub,
        aud: client.id.as_str(),
        exp: (now + context.config.id_token_ttl).as_secs(),
        iat: now.as_secs(),
        auth_time: sign_in.time.as_secs(),
        amr: sign_in.amr.split(' ').filter(|m| !m.is_empty()).collect(),
        acr: crate::mfa::acr(sign_in.amr),
        nonce,
        at_hash: access_token.map(at_hash),
        azp: client.id.as_str(),
        extra,
    };
    let key = context
        .keys
        .signing_key(client.id_token_alg, now)
        .ok_or_else(|| OAuthError::internal(NoKey(client.id_token_alg.as_str())))?;
    jws::sign(&key, "JWT", &claims).map_err(OAuthError::internal)
}

#[derive(Debug, thiserror::Error)]
#[error("no active {0} signing key")]
struct NoKey(&'static str);

#[cfg(test)]
mod tests {
    use super::at_hash;

    #[test]
    fn at_hash_is_the_left_half_of_sha256_base64url() {
        // Computed independently: base64url(sha256(token)[:16]) with Python's hashlib.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNHIvOMJUQXXwtalqCYa"),
            "HgWhUgf3EA-u11jRksULEA"
        );
    }
}
