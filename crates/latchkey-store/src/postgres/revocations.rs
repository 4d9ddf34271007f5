//! The access-token deny list.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::{ClientId, Jti};
use latchkey_core::store::{Revocation, RevocationStore};

use super::{PostgresStore, column, store_error};

#[async_trait]
impl RevocationStore for PostgresStore {
    async fn revoke_access_token(
        &self,
        jti: &Jti,
        client_id: &ClientId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti.as_str())
        .bind(client_id.as_str())
        .bind(expires_at.as_secs())
        .bind(now.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn revocations_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, expires_at, revoked_at FROM revoked_access_tokens
             WHERE revoked_at >= $1 AND expires_at > $2",
        )
        .bind(since.as_secs())
        .bind(now.as_secs())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(Revocation {
                    jti: Jti::new(column::<String>(row, "jti")?),
                    expires_at: Timestamp::from_secs(column(row, "expires_at")?),
                    revoked_at: Timestamp::from_secs(column(row, "revoked_at")?),
                })
            })
            .collect()
    }

    async fn purge_revocations(&self, now: Timestamp) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
            .bind(now.as_secs())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}
