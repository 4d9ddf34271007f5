//! Device authorizations (RFC 8628) and user-code brute-force counters.

use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::device::{DeviceAuthorization, DeviceStatus, UserCode};
use latchkey_core::error::StoreError;
use latchkey_core::id::{ClientId, FamilyId};
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::DeviceStore;
use sqlx::postgres::PgRow;

use super::{PostgresStore, column, store_error};

const COLUMNS: &str =
    "device_code_hash, user_code, client_id, scopes, created_at, expires_at, status, family_id";

fn device_from_row(row: &PgRow) -> Result<DeviceAuthorization, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("device code {what}"));
    let user_code: String = column(row, "user_code")?;
    let scopes: String = column(row, "scopes")?;
    let status: String = column(row, "status")?;
    Ok(DeviceAuthorization {
        device_code_hash: SecretHash::from_bytes(column(row, "device_code_hash")?),
        user_code: UserCode::parse(&user_code).ok_or_else(|| corrupt("user_code"))?,
        client_id: ClientId::new(column::<String>(row, "client_id")?),
        scopes: ScopeSet::parse(&scopes).map_err(|_| corrupt("scopes"))?,
        created_at: Timestamp::from_secs(column(row, "created_at")?),
        expires_at: Timestamp::from_secs(column(row, "expires_at")?),
        status: DeviceStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        family_id: column::<Option<String>>(row, "family_id")?.map(FamilyId::new),
    })
}

fn window_start(now: Timestamp, window: Duration) -> i64 {
    (now - window).as_secs()
}

fn failure_count(row: &PgRow) -> Result<u32, StoreError> {
    Ok(u32::try_from(column::<i32>(row, "failures")?).unwrap_or(u32::MAX))
}

#[async_trait]
impl DeviceStore for PostgresStore {
    async fn insert_device_authorization(&self, device: &DeviceAuthorization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO device_codes
             (device_code_hash, user_code, client_id, scopes, created_at, expires_at, status, family_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(device.device_code_hash.as_bytes())
        .bind(device.user_code.as_str())
        .bind(device.client_id.as_str())
        .bind(device.scopes.to_string())
        .bind(device.created_at.as_secs())
        .bind(device.expires_at.as_secs())
        .bind(device.status.as_str())
        .bind(device.family_id.as_ref().map(FamilyId::as_str))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn release_expired_user_code(
        &self,
        user_code: &UserCode,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM device_codes WHERE user_code = $1 AND expires_at <= $2")
            .bind(user_code.as_str())
            .bind(now.as_secs())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn find_device_by_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1"
        ))
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &UserCode,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_codes WHERE user_code = $1"
        ))
        .bind(user_code.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn approve_device(
        &self,
        user_code: &UserCode,
        family: &FamilyId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE device_codes SET status = 'approved', family_id = $1
             WHERE user_code = $2 AND status = 'pending' AND expires_at > $3",
        )
        .bind(family.as_str())
        .bind(user_code.as_str())
        .bind(now.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn deny_device(&self, user_code: &UserCode, now: Timestamp) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE device_codes SET status = 'denied'
             WHERE user_code = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(user_code.as_str())
        .bind(now.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn spend_device(&self, hash: &SecretHash, now: Timestamp) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE device_codes SET status = 'spent'
             WHERE device_code_hash = $1 AND status = 'approved' AND expires_at > $2",
        )
        .bind(hash.as_bytes())
        .bind(now.as_secs())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn user_code_failures(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let row =
            sqlx::query("SELECT failures FROM user_code_failures WHERE subject = $1 AND window_start > $2")
                .bind(subject)
                .bind(window_start(now, window))
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        row.as_ref().map_or(Ok(0), failure_count)
    }

    async fn record_user_code_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<u32, StoreError> {
        // One statement: a new window starts when the old one has passed. Every SET
        // expression reads the row as it was, so both CASEs agree.
        let row = sqlx::query(
            "INSERT INTO user_code_failures AS f (subject, window_start, failures) VALUES ($1, $2, 1)
             ON CONFLICT (subject) DO UPDATE SET
                 failures = CASE WHEN f.window_start > $3 THEN f.failures + 1 ELSE 1 END,
                 window_start = CASE WHEN f.window_start > $3 THEN f.window_start ELSE excluded.window_start END
             RETURNING failures",
        )
        .bind(subject)
        .bind(now.as_secs())
        .bind(window_start(now, window))
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        failure_count(&row)
    }

    async fn purge_device_codes(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Kept an hour past expiry, so the verification page can say "expired".
        let result = sqlx::query("DELETE FROM device_codes WHERE expires_at <= $1")
            .bind((now - Duration::from_secs(3600)).as_secs())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query("DELETE FROM user_code_failures WHERE window_start <= $1")
            .bind((now - Duration::from_secs(86_400)).as_secs())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(result.rows_affected())
    }
}
