//! Roles, who holds them, and restricted scopes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::UserId;
use latchkey_core::roles::Role;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::store::RoleStore;
use sqlx::postgres::PgRow;

use super::{PostgresStore, column, store_error};

/// Rows of `name, description, scope` (scope NULL for a role without any) into roles.
fn collect(rows: &[PgRow]) -> Result<Vec<Role>, StoreError> {
    let mut roles: BTreeMap<String, Role> = BTreeMap::new();
    for row in rows {
        let name: String = column(row, "name")?;
        let scope: Option<String> = column(row, "scope")?;
        let role = match roles.entry(name.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Role {
                name,
                description: column(row, "description")?,
                scopes: ScopeSet::default(),
            }),
        };
        if let Some(scope) = scope {
            let scope = Scope::parse(&scope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            role.scopes = role.scopes.iter().cloned().chain([scope]).collect();
        }
    }
    Ok(roles.into_values().collect())
}

#[async_trait]
impl RoleStore for PostgresStore {
    async fn put_role(&self, role: &Role, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(now.as_secs())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query("DELETE FROM role_scopes WHERE role = $1")
            .bind(&role.name)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        for scope in role.scopes.iter() {
            sqlx::query("INSERT INTO role_scopes (role, scope) VALUES ($1, $2)")
                .bind(&role.name)
                .bind(scope.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.name, r.description, s.scope FROM roles r
             LEFT JOIN role_scopes s ON s.role = r.name ORDER BY r.name, s.scope",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        collect(&rows)
    }

    async fn grant_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO user_roles (user_id, role)
             SELECT u.id, r.name FROM users u, roles r WHERE u.id = $1 AND r.name = $2
             ON CONFLICT (user_id, role) DO NOTHING",
        )
        .bind(user.as_str())
        .bind(role)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        // Already held counts as done; an unknown user or role does not.
        let held = sqlx::query("SELECT 1 FROM user_roles WHERE user_id = $1 AND role = $2")
            .bind(user.as_str())
            .bind(role)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(held.is_some())
    }

    async fn revoke_role(&self, user: &UserId, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
            .bind(user.as_str())
            .bind(role)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn user_roles(&self, user: &UserId) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.name, r.description, s.scope FROM user_roles ur
             JOIN roles r ON r.name = ur.role
             LEFT JOIN role_scopes s ON s.role = r.name
             WHERE ur.user_id = $1 ORDER BY r.name, s.scope",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        collect(&rows)
    }

    async fn set_scope_restricted(&self, scope: &Scope, restricted: bool) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scopes (name, description, restricted) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET restricted = excluded.restricted",
        )
        .bind(scope.as_str())
        .bind(scope.as_str())
        .bind(restricted)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn restricted_scopes(&self) -> Result<ScopeSet, StoreError> {
        let rows = sqlx::query("SELECT name FROM scopes WHERE restricted")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let name: String = column(row, "name")?;
                Scope::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }
}
