//! The verified claims of an access token (RFC 9068 §2.2), as handlers see them.

use std::ops::Deref;
use std::sync::Arc;

use serde::Deserialize;

/// What a verified access token says. Handlers get it through [`Verified`].
///
/// Built only by this crate, from a token whose signature, issuer, audience and lifetime
/// have been checked (or that the authorization server called active).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessClaims {
    /// `iss`: the authorization server.
    pub issuer: String,
    /// `sub`: the user, or for the client-credentials grant the client itself.
    pub subject: String,
    /// `aud`: the resource servers the token is for; contains this API's identifier.
    pub audience: Vec<String>,
    /// `client_id`: the client the token was issued to.
    pub client_id: String,
    /// `scope`, split on spaces: what the token allows.
    pub scopes: Vec<String>,
    /// `jti`: the token's id. Always present in a JWT; an introspection response may omit it.
    pub jti: Option<String>,
    /// `exp`: expiry, seconds since the epoch.
    pub expires_at: i64,
    /// `iat`: when it was issued, if said.
    pub issued_at: Option<i64>,
    /// `nbf`: when it starts being valid, if said.
    pub not_before: Option<i64>,
    /// The user's roles: Latchkey puts them in the token when the client was granted the
    /// `roles` scope (claim `roles` unless the builder names another with
    /// [`AuthBuilder::roles_claim`](crate::AuthBuilder::roles_claim)); empty otherwise.
    pub roles: Vec<String>,
}

impl AccessClaims {
    /// Whether the token was granted `scope` (exact, case-sensitive match: RFC 6749 §3.3).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// Whether the user holds `role` (see [`AccessClaims::roles`]).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    /// Whether `audience` is one of the token's audiences.
    pub fn is_for(&self, audience: &str) -> bool {
        self.audience.iter().any(|aud| aud == audience)
    }
}

/// Claims that passed verification. Deref to [`AccessClaims`].
///
/// This is also an axum extractor (see [`crate::extract`]); the tower layer
/// [`RequireScopeLayer`](crate::RequireScopeLayer) puts one in the request extensions.
/// Only this crate can make one, so holding a `Verified` means a token was checked.
#[derive(Debug, Clone)]
pub struct Verified(pub(crate) Arc<AccessClaims>);

impl Verified {
    /// The claims, shared.
    pub fn claims(&self) -> &Arc<AccessClaims> {
        &self.0
    }
}

impl Deref for Verified {
    type Target = AccessClaims;
    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

/// `aud`: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|aud| aud == audience),
        }
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// Splits an RFC 6749 §3.3 scope string.
pub(crate) fn split_scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The string members of claim `name` in `claims`, if it is an array (other members and
/// other shapes are ignored).
pub(crate) fn string_list(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Vec<String> {
    claims
        .get(name)
        .and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
