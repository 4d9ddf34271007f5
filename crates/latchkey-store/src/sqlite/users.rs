//! Users, sessions and remembered consent.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::family::Session;
use latchkey_core::id::{ClientId, UserId};
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::{ConsentRecord, ConsentStore, SessionStore, UserStore};
use latchkey_core::user::User;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, column, store_error};

const USER_COLUMNS: &str = "id, username, email, name, created_at";

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::new(column::<String>(row, "id")?),
        username: column(row, "username")?,
        email: column(row, "email")?,
        name: column(row, "name")?,
        created_at: Timestamp::from_secs(column(row, "created_at")?),
    })
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, email, name, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.as_str())
        .bind(&user.username)
        .bind(User::username_key(&user.username))
        .bind(password_hash)
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.created_at.as_secs())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = ?"
        ))
        .bind(User::username_key(username))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref()
            .map(|row| Ok((user_from_row(row)?, column(row, "password_hash")?)))
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, username_key"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn update_profile(
        &self,
        id: &UserId,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET email = ?, name = ? WHERE id = ?")
            .bind(email)
            .bind(name)
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password_hash(&self, id: &UserId, password_hash: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, id: &SecretHash, session: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at, amr) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id.as_bytes())
        .bind(session.user_id.as_str())
        .bind(session.auth_time.as_secs())
        .bind(session.expires_at.as_secs())
        .bind(&session.amr)
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn find_session(&self, id: &SecretHash, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, auth_time, expires_at, amr FROM sessions WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id.as_bytes())
        .bind(now.as_secs())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| {
            Ok(Session {
                user_id: UserId::new(column::<String>(&row, "user_id")?),
                auth_time: Timestamp::from_secs(column(&row, "auth_time")?),
                amr: column(&row, "amr")?,
                expires_at: Timestamp::from_secs(column(&row, "expires_at")?),
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id: &SecretHash) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id.as_bytes())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_user_sessions(
        &self,
        user: &UserId,
        except: Option<&SecretHash>,
    ) -> Result<u64, StoreError> {
        let done = match except {
            Some(keep) => {
                sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?")
                    .bind(user.as_str())
                    .bind(keep.as_bytes())
                    .execute(&self.writer)
                    .await
            }
            None => {
                sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                    .bind(user.as_str())
                    .execute(&self.writer)
                    .await
            }
        }
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now.as_secs())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn find_consent(&self, user: &UserId, client: &ClientId) -> Result<Option<ScopeSet>, StoreError> {
        let row = sqlx::query("SELECT scopes FROM consents WHERE user_id = ? AND client_id = ?")
            .bind(user.as_str())
            .bind(client.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let scopes: String = column(&row, "scopes")?;
            ScopeSet::parse(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, scopes, created_at, updated_at FROM consents WHERE user_id = ? ORDER BY updated_at DESC, client_id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let scopes: String = column(row, "scopes")?;
                let updated_at = Timestamp::from_secs(column(row, "updated_at")?);
                Ok(ConsentRecord {
                    client_id: ClientId::new(column::<String>(row, "client_id")?),
                    scopes: ScopeSet::parse(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    first_granted: column::<Option<i64>>(row, "created_at")?
                        .map_or(updated_at, Timestamp::from_secs),
                    updated_at,
                })
            })
            .collect()
    }

    async fn has_offline_access(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
                 WHERE f.user_id = ? AND f.client_id = ? AND f.revoked_at IS NULL AND f.expires_at > ?
                   AND r.rotated_at IS NULL AND r.idle_expires_at > ?) AS live",
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(now.as_secs())
        .bind(now.as_secs())
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(column::<bool>(&row, "live")?)
    }

    async fn revoke_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL",
        )
        .bind(now.as_secs())
        .bind(user.as_str())
        .bind(client.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query("DELETE FROM consents WHERE user_id = ? AND client_id = ?")
            .bind(user.as_str())
            .bind(client.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn save_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        scopes: &ScopeSet,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scopes, updated_at, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(scopes.to_string())
        .bind(now.as_secs())
        .bind(now.as_secs())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}
