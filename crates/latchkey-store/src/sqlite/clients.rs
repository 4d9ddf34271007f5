//! Registered clients.

use async_trait::async_trait;
use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::ClientId;
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::ClientStore;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, column, store_error};

const COLUMNS: &str =
    "id, name, auth_method, grant_types, redirect_uris, scopes, secret_hash, created_at, id_token_alg";

fn join<T>(items: &[T], as_str: impl Fn(&T) -> &str) -> String {
    items.iter().map(as_str).collect::<Vec<_>>().join(" ")
}

fn client_from_row(row: &SqliteRow) -> Result<Client, StoreError> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("client {what}: {e}"));
    let grant_types: String = column(row, "grant_types")?;
    let redirect_uris: String = column(row, "redirect_uris")?;
    let scopes: String = column(row, "scopes")?;
    let auth_method: String = column(row, "auth_method")?;
    Ok(Client {
        id: ClientId::new(column::<String>(row, "id")?),
        name: column(row, "name")?,
        auth_method: auth_method
            .parse::<AuthMethod>()
            .map_err(|e| corrupt("auth_method", e))?,
        grant_types: grant_types
            .split_whitespace()
            .map(|g| g.parse::<GrantType>().map_err(|e| corrupt("grant_types", e)))
            .collect::<Result<_, _>>()?,
        redirect_uris: redirect_uris
            .split_whitespace()
            .map(|u| RedirectUri::from_stored(u.to_owned()))
            .collect(),
        scopes: ScopeSet::parse(&scopes).map_err(|e| corrupt("scopes", e.to_string()))?,
        secret_hash: column::<Option<Vec<u8>>>(row, "secret_hash")?.map(SecretHash::from_bytes),
        created_at: Timestamp::from_secs(column(row, "created_at")?),
        id_token_alg: column::<String>(row, "id_token_alg")?
            .parse()
            .map_err(|e| corrupt("id_token_alg", e))?,
    })
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients
             (id, name, auth_method, grant_types, redirect_uris, scopes, secret_hash, created_at, id_token_alg)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(client.id.as_str())
        .bind(&client.name)
        .bind(client.auth_method.as_str())
        .bind(join(&client.grant_types, |g| g.as_str()))
        .bind(join(&client.redirect_uris, RedirectUri::as_str))
        .bind(client.scopes.to_string())
        .bind(client.secret_hash.as_ref().map(SecretHash::as_bytes))
        .bind(client.created_at.as_secs())
        .bind(client.id_token_alg.as_str())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE clients SET name = ?, grant_types = ?, redirect_uris = ?, scopes = ?, id_token_alg = ?
             WHERE id = ?",
        )
        .bind(&client.name)
        .bind(join(&client.grant_types, |g| g.as_str()))
        .bind(join(&client.redirect_uris, RedirectUri::as_str))
        .bind(client.scopes.to_string())
        .bind(client.id_token_alg.as_str())
        .bind(client.id.as_str())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM clients WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM clients ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM clients WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn replace_client_secret(&self, id: &ClientId, hash: &SecretHash) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE clients SET secret_hash = ? WHERE id = ? AND secret_hash IS NOT NULL")
                .bind(hash.as_bytes())
                .bind(id.as_str())
                .execute(&self.writer)
                .await
                .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }
}
