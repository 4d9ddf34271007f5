//! Signing keys.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::Kid;
use latchkey_core::keys::{Algorithm, StoredKey};
use latchkey_core::store::KeyStore;

use super::{PostgresStore, column, store_error};

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_private, created_at, activates_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(&key.sealed_private)
        .bind(key.created_at.as_secs())
        .bind(key.activates_at.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            r#"SELECT kid, alg, sealed_private, created_at, activates_at FROM signing_keys
               ORDER BY created_at, kid COLLATE "C""#,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let alg: String = column(row, "alg")?;
                Ok(StoredKey {
                    kid: Kid::new(column::<String>(row, "kid")?),
                    alg: alg.parse::<Algorithm>().map_err(StoreError::Corrupt)?,
                    sealed_private: column(row, "sealed_private")?,
                    created_at: Timestamp::from_secs(column(row, "created_at")?),
                    activates_at: Timestamp::from_secs(column(row, "activates_at")?),
                })
            })
            .collect()
    }

    async fn delete_key(&self, kid: &Kid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
            .bind(kid.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
