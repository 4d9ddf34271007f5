//! Scope descriptions.

use async_trait::async_trait;
use latchkey_core::error::StoreError;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::store::{ScopeDescription, ScopeStore};

use super::{PostgresStore, column, store_error};

#[async_trait]
impl ScopeStore for PostgresStore {
    async fn ensure_scopes(&self, scopes: &ScopeSet) -> Result<(), StoreError> {
        // One round trip for the whole set.
        let names: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
        sqlx::query(
            "INSERT INTO scopes (name, description) SELECT name, name FROM UNNEST($1::TEXT[]) AS s (name)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(names)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn describe_scope(&self, scope: &Scope, description: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scopes (name, description) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description",
        )
        .bind(scope.as_str())
        .bind(description)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn list_scopes(&self) -> Result<Vec<ScopeDescription>, StoreError> {
        let rows = sqlx::query(r#"SELECT name, description FROM scopes ORDER BY name COLLATE "C""#)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let name: String = column(row, "name")?;
                Ok(ScopeDescription {
                    scope: Scope::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    description: column(row, "description")?,
                })
            })
            .collect()
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM scopes WHERE name = $1")
            .bind(scope.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }
}
