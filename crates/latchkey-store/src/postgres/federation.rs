//! Upstream providers and linked identities.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::federation::{LinkedIdentity, UpstreamProvider};
use latchkey_core::id::UserId;
use latchkey_core::store::FederationStore;
use sqlx::postgres::PgRow;

use super::{PostgresStore, column, store_error};

fn provider(row: &PgRow) -> Result<UpstreamProvider, StoreError> {
    Ok(UpstreamProvider {
        id: column(row, "id")?,
        name: column(row, "name")?,
        issuer: column(row, "issuer")?,
        client_id: column(row, "client_id")?,
        sealed_secret: column(row, "sealed_secret")?,
        scopes: column(row, "scopes")?,
        oauth2: column::<Option<String>>(row, "oauth2")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("upstream_providers.oauth2: {e}")))?,
        created_at: Timestamp::from_secs(column(row, "created_at")?),
    })
}

fn identity(row: &PgRow) -> Result<LinkedIdentity, StoreError> {
    Ok(LinkedIdentity {
        provider_id: column(row, "provider_id")?,
        issuer: column(row, "issuer")?,
        subject: column(row, "subject")?,
        user_id: UserId::new(column::<String>(row, "user_id")?),
        created_at: Timestamp::from_secs(column(row, "created_at")?),
    })
}

const PROVIDER_COLUMNS: &str =
    "SELECT id, name, issuer, client_id, sealed_secret, scopes, oauth2, created_at FROM upstream_providers";

#[async_trait]
impl FederationStore for PostgresStore {
    async fn put_provider(&self, p: &UpstreamProvider) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO upstream_providers (id, name, issuer, client_id, sealed_secret, scopes, oauth2, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, issuer = excluded.issuer,
                 client_id = excluded.client_id, sealed_secret = excluded.sealed_secret, scopes = excluded.scopes,
                 oauth2 = excluded.oauth2",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.issuer)
        .bind(&p.client_id)
        .bind(&p.sealed_secret)
        .bind(&p.scopes)
        .bind(p.oauth2.as_ref().and_then(|o| serde_json::to_string(o).ok()))
        .bind(p.created_at.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn list_providers(&self) -> Result<Vec<UpstreamProvider>, StoreError> {
        let rows = sqlx::query(&format!("{PROVIDER_COLUMNS} ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(provider).collect()
    }

    async fn find_provider(&self, id: &str) -> Result<Option<UpstreamProvider>, StoreError> {
        let row = sqlx::query(&format!("{PROVIDER_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(provider).transpose()
    }

    async fn delete_provider(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM upstream_providers WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_identity(&self, issuer: &str, subject: &str) -> Result<Option<UserId>, StoreError> {
        let user: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM linked_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(user.map(UserId::new))
    }

    async fn link_identity(&self, i: &LinkedIdentity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO linked_identities (provider_id, issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&i.provider_id)
        .bind(&i.issuer)
        .bind(&i.subject)
        .bind(i.user_id.as_str())
        .bind(i.created_at.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn list_identities(&self, user: &UserId) -> Result<Vec<LinkedIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT provider_id, issuer, subject, user_id, created_at FROM linked_identities
             WHERE user_id = $1 ORDER BY created_at, issuer, subject",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(identity).collect()
    }

    async fn unlink_identity(&self, user: &UserId, issuer: &str, subject: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM linked_identities WHERE user_id = $1 AND issuer = $2 AND subject = $3")
                .bind(user.as_str())
                .bind(issuer)
                .bind(subject)
                .execute(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn email_in_use(&self, email: &str) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM users WHERE lower(email) = lower($1) LIMIT 1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(found.is_some())
    }
}
