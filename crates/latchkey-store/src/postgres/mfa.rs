//! TOTP credentials and recovery codes.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::UserId;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::{MfaStore, TotpCredential};

use super::{PostgresStore, column, store_error};

#[async_trait]
impl MfaStore for PostgresStore {
    async fn begin_totp(
        &self,
        user: &UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO totp_credentials (user_id, sealed_secret, confirmed, last_step, created_at)
             VALUES ($1, $2, FALSE, 0, $3)
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
                 created_at = excluded.created_at, last_step = 0
             WHERE NOT totp_credentials.confirmed",
        )
        .bind(user.as_str())
        .bind(sealed_secret)
        .bind(now.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_totp(&self, user: &UserId) -> Result<Option<TotpCredential>, StoreError> {
        let row = sqlx::query(
            "SELECT sealed_secret, confirmed, last_step FROM totp_credentials WHERE user_id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| {
            Ok(TotpCredential {
                sealed_secret: column(&row, "sealed_secret")?,
                confirmed: column(&row, "confirmed")?,
                last_step: column(&row, "last_step")?,
            })
        })
        .transpose()
    }

    async fn use_totp_step(&self, user: &UserId, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_credentials SET last_step = $1, confirmed = TRUE WHERE user_id = $2 AND last_step < $3",
        )
        .bind(step)
        .bind(user.as_str())
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_totp(&self, user: &UserId) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        let done = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_recovery_codes(&self, user: &UserId, hashes: &[SecretHash]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        for hash in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.as_str())
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn use_recovery_code(
        &self,
        user: &UserId,
        hash: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.as_secs())
        .bind(user.as_str())
        .bind(hash.as_bytes())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn recovery_codes_left(&self, user: &UserId) -> Result<u64, StoreError> {
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(u64::try_from(left).unwrap_or_default())
    }
}
