//! Passkeys and spent ceremony challenges.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::UserId;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::{Passkey, PasskeyStore};
use sqlx::postgres::PgRow;

use super::{PostgresStore, column, store_error};

const COLUMNS: &str = "credential_id, user_id, name, public_key, algorithm, sign_count, backup_eligible,
     created_at, last_used_at";

fn passkey(row: &PgRow) -> Result<Passkey, StoreError> {
    let user: String = column(row, "user_id")?;
    let count: i64 = column(row, "sign_count")?;
    Ok(Passkey {
        credential_id: column(row, "credential_id")?,
        user_id: UserId::new(user),
        name: column(row, "name")?,
        public_key: column(row, "public_key")?,
        algorithm: column(row, "algorithm")?,
        sign_count: u32::try_from(count).map_err(|_| StoreError::Corrupt("passkey sign_count".into()))?,
        backup_eligible: column(row, "backup_eligible")?,
        created_at: Timestamp::from_secs(column(row, "created_at")?),
        last_used_at: column::<Option<i64>>(row, "last_used_at")?.map(Timestamp::from_secs),
    })
}

#[async_trait]
impl PasskeyStore for PostgresStore {
    async fn add_passkey(&self, passkey: &Passkey) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO passkeys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (credential_id) DO NOTHING"
        ))
        .bind(&passkey.credential_id)
        .bind(passkey.user_id.as_str())
        .bind(&passkey.name)
        .bind(&passkey.public_key)
        .bind(passkey.algorithm)
        .bind(i64::from(passkey.sign_count))
        .bind(passkey.backup_eligible)
        .bind(passkey.created_at.as_secs())
        .bind(passkey.last_used_at.map(Timestamp::as_secs))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_passkey(&self, credential_id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?
        .as_ref()
        .map(passkey)
        .transpose()
    }

    async fn list_passkeys(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(passkey)
        .collect()
    }

    async fn use_passkey(
        &self,
        credential_id: &[u8],
        sign_count: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE passkeys SET sign_count = $1, last_used_at = $2
             WHERE credential_id = $3 AND (sign_count < $4 OR (sign_count = 0 AND $5 = 0))",
        )
        .bind(i64::from(sign_count))
        .bind(now.as_secs())
        .bind(credential_id)
        .bind(i64::from(sign_count))
        .bind(i64::from(sign_count))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkey(&self, user: &UserId, credential_id: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user.as_str())
            .bind(credential_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_passkeys(&self, user: &UserId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn spend_challenge(
        &self,
        hash: &SecretHash,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query("DELETE FROM spent_challenges WHERE expires_at <= $1")
            .bind(now.as_secs())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let done = sqlx::query(
            "INSERT INTO spent_challenges (challenge_hash, expires_at) VALUES ($1, $2)
             ON CONFLICT (challenge_hash) DO NOTHING",
        )
        .bind(hash.as_bytes())
        .bind(expires_at.as_secs())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }
}
