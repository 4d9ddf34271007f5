//! Roles and permissions: a role is a named set of permissions, and permissions are
//! scopes (`notes:write`). A scope marked restricted is granted only to a user who holds
//! it through a role: the consent page never offers it to anyone else and no token of
//! theirs carries it, whatever the client asks (RFC 6749 §3.3 lets the server grant less
//! than requested). With the `roles` scope, tokens also name the user's roles.

use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::UserId;
use crate::scope::ScopeSet;

/// `roles`: asks for the user's roles in the access and ID tokens.
pub const ROLES: &str = "roles";

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its name: lowercase letters, digits, `_`, `-`, `.` and `:`, up to 64.
    pub name: String,
    /// What it is for, for administrators.
    pub description: String,
    /// The permissions it gives.
    pub scopes: ScopeSet,
}

/// Why a role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role name is 1 to 64 of a-z, 0-9, '_', '-', '.' and ':'")]
pub struct RoleNameError;

/// Checks a role name.
pub fn validate_name(name: &str) -> Result<(), RoleNameError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.:".contains(&b));
    if ok { Ok(()) } else { Err(RoleNameError) }
}

/// `requested` without the restricted scopes `held` does not include.
pub fn narrow(requested: &ScopeSet, restricted: &ScopeSet, held: &ScopeSet) -> ScopeSet {
    requested.filtered(|s| !restricted.contains(s.as_str()) || held.contains(s.as_str()))
}

/// What of `requested` `user` may be granted: restricted scopes only through a role.
/// Costs a database read only when `requested` names a restricted scope.
pub async fn permitted(
    context: &Context,
    user: &UserId,
    requested: &ScopeSet,
    now: Timestamp,
) -> Result<ScopeSet, OAuthError> {
    let restricted = context.restricted_scopes(now).await?;
    if !requested.iter().any(|s| restricted.contains(s.as_str())) {
        return Ok(requested.clone());
    }
    let held: ScopeSet = context
        .store
        .user_roles(user)
        .await?
        .iter()
        .flat_map(|role| role.scopes.iter().cloned())
        .collect();
    Ok(narrow(requested, &restricted, &held))
}

/// The claims `scopes` adds to `user`'s tokens: with `roles`, the names of the roles the
/// user holds now, under the configured claim name (an empty list when none).
pub async fn claims(
    context: &Context,
    user: &UserId,
    scopes: &ScopeSet,
) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
    let mut extra = serde_json::Map::new();
    if scopes.contains(ROLES) {
        let names: Vec<serde_json::Value> = context
            .store
            .user_roles(user)
            .await?
            .into_iter()
            .map(|role| serde_json::Value::String(role.name))
            .collect();
        extra.insert(
            context.config.roles_claim.clone(),
            serde_json::Value::Array(names),
        );
    }
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap_or_default()
    }

    #[test]
    fn restricted_scopes_need_a_role() {
        let restricted = set("notes:write admin");
        assert_eq!(
            narrow(
                &set("openid notes:read notes:write admin"),
                &restricted,
                &set("notes:write")
            ),
            set("openid notes:read notes:write")
        );
        assert_eq!(
            narrow(&set("admin"), &restricted, &ScopeSet::default()),
            ScopeSet::default()
        );
        assert_eq!(
            narrow(&set("notes:read"), &restricted, &ScopeSet::default()),
            set("notes:read")
        );
    }

    #[test]
    fn role_names_are_plain() {
        assert!(validate_name("editor").is_ok());
        assert!(validate_name("notes:admin-2").is_ok());
        for bad in ["", "Editor", "a b", "x'y", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
