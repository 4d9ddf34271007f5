//! Token families: authorization codes, refresh-token rotation and family revocation. Each
//! single-use rule is one conditional `UPDATE ... RETURNING`.

use async_trait::async_trait;
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::family::{AuthorizationCode, CodeRedemption, Family, RefreshRotation, RefreshTokenRecord};
use latchkey_core::id::{ClientId, FamilyId, UserId};
use latchkey_core::pkce::CodeChallenge;
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::SecretHash;
use latchkey_core::store::FamilyStore;
use sqlx::sqlite::SqliteRow;

use super::writer::ScriptArguments;
use super::{SqliteStore, column, store_error};

fn scopes(row: &SqliteRow, name: &str) -> Result<ScopeSet, StoreError> {
    let text: String = column(row, name)?;
    ScopeSet::parse(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    async fn family(&self, id: &str) -> Result<Option<Family>, StoreError> {
        let row = sqlx::query(
            "SELECT id, client_id, user_id, scopes, auth_time, amr, created_at, expires_at, revoked_at
             FROM token_families WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(|row| family_from_row(row, "scopes")).transpose()
    }
}

/// A family from a row; `scopes_column` names its scopes (they clash in joins).
fn family_from_row(row: &SqliteRow, scopes_column: &str) -> Result<Family, StoreError> {
    Ok(Family {
        id: FamilyId::new(column::<String>(row, "id")?),
        client_id: ClientId::new(column::<String>(row, "client_id")?),
        user_id: UserId::new(column::<String>(row, "user_id")?),
        scopes: scopes(row, scopes_column)?,
        auth_time: Timestamp::from_secs(column(row, "auth_time")?),
        amr: column(row, "amr")?,
        created_at: Timestamp::from_secs(column(row, "created_at")?),
        expires_at: Timestamp::from_secs(column(row, "expires_at")?),
        revoked: column::<Option<i64>>(row, "revoked_at")?.is_some(),
    })
}

/// A code from a row; `expires_column` names its expiry (it clashes in joins).
fn code_from_row(
    row: &SqliteRow,
    hash: &SecretHash,
    expires_column: &str,
) -> Result<AuthorizationCode, StoreError> {
    Ok(AuthorizationCode {
        hash: hash.clone(),
        family_id: FamilyId::new(column::<String>(row, "family_id")?),
        redirect_uri: column(row, "redirect_uri")?,
        redirect_given: column::<i64>(row, "redirect_given")? != 0,
        code_challenge: column::<Option<String>>(row, "code_challenge")?.map(CodeChallenge::from_stored),
        nonce: column(row, "nonce")?,
        expires_at: Timestamp::from_secs(column(row, expires_column)?),
    })
}

fn refresh_from_row(row: &SqliteRow, hash: &SecretHash) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        hash: hash.clone(),
        family_id: FamilyId::new(column::<String>(row, "family_id")?),
        scopes: scopes(row, "scopes")?,
        issued_at: Timestamp::from_secs(column(row, "issued_at")?),
        idle_expires_at: Timestamp::from_secs(column(row, "idle_expires_at")?),
    })
}

#[async_trait]
impl FamilyStore for SqliteStore {
    async fn insert_family(&self, family: &Family) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_families (id, client_id, user_id, scopes, auth_time, amr, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(family.id.as_str())
        .bind(family.client_id.as_str())
        .bind(family.user_id.as_str())
        .bind(family.scopes.to_string())
        .bind(family.auth_time.as_secs())
        .bind(&family.amr)
        .bind(family.created_at.as_secs())
        .bind(family.expires_at.as_secs())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn find_family(&self, id: &FamilyId) -> Result<Option<Family>, StoreError> {
        self.family(id.as_str()).await
    }

    async fn insert_family_with_code(
        &self,
        family: &Family,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        let arguments = ScriptArguments::new()
            .push(family.id.as_str().to_owned())?
            .push(family.client_id.as_str().to_owned())?
            .push(family.user_id.as_str().to_owned())?
            .push(family.scopes.to_string())?
            .push(family.auth_time.as_secs())?
            .push(family.amr.clone())?
            .push(family.created_at.as_secs())?
            .push(family.expires_at.as_secs())?
            .push(code.hash.as_bytes().to_vec())?
            .push(code.family_id.as_str().to_owned())?
            .push(code.redirect_uri.clone())?
            .push(i64::from(code.redirect_given))?
            .push(code.code_challenge.as_ref().map(|c| c.as_str().to_owned()))?
            .push(code.nonce.clone())?
            .push(code.expires_at.as_secs())?;
        self.write_script(
            "BEGIN IMMEDIATE;
             INSERT INTO token_families (id, client_id, user_id, scopes, auth_time, amr, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?);
             INSERT INTO authorization_codes
             (code_hash, family_id, redirect_uri, redirect_given, code_challenge, nonce, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?);
             COMMIT;",
            arguments,
        )
        .await?;
        Ok(())
    }

    async fn find_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(AuthorizationCode, Family, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT c.family_id, c.redirect_uri, c.redirect_given, c.code_challenge, c.nonce,
                    c.expires_at AS code_expires_at, c.consumed_at,
                    f.id, f.client_id, f.user_id, f.scopes, f.auth_time, f.amr, f.created_at, f.expires_at,
                    f.revoked_at
             FROM authorization_codes c JOIN token_families f ON f.id = c.family_id
             WHERE c.code_hash = ?",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let code = code_from_row(&row, hash, "code_expires_at")?;
        let family = family_from_row(&row, "scopes")?;
        let used = column::<Option<i64>>(&row, "consumed_at")?.is_some();
        Ok(Some((code, family, used)))
    }

    async fn redeem_code(
        &self,
        hash: &SecretHash,
        refresh_token: Option<&RefreshTokenRecord>,
        now: Timestamp,
    ) -> Result<CodeRedemption, StoreError> {
        // The refresh token is inserted only if this script's UPDATE spent the code.
        let arguments = ScriptArguments::new()
            .push(now.as_secs())?
            .push(hash.as_bytes().to_vec())?
            .push(now.as_secs())?
            .push(refresh_token.map(|r| r.hash.as_bytes().to_vec()))?
            .push(refresh_token.map(|r| r.family_id.as_str().to_owned()))?
            .push(refresh_token.map(|r| r.scopes.to_string()))?
            .push(refresh_token.map(|r| r.issued_at.as_secs()))?
            .push(refresh_token.map(|r| r.idle_expires_at.as_secs()))?
            .push(i64::from(refresh_token.is_some()))?;
        let redeemed = self
            .write_script(
                "BEGIN IMMEDIATE;
                 UPDATE authorization_codes SET consumed_at = ?
                 WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ?
                   AND EXISTS (SELECT 1 FROM token_families f
                               WHERE f.id = authorization_codes.family_id AND f.revoked_at IS NULL)
                 RETURNING family_id;
                 INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, idle_expires_at)
                 SELECT ?, ?, ?, ?, ? WHERE changes() = 1 AND ?;
                 COMMIT;",
                arguments,
            )
            .await?;
        if !redeemed.is_empty() {
            return Ok(CodeRedemption::Redeemed);
        }
        let previous =
            sqlx::query("SELECT family_id, consumed_at FROM authorization_codes WHERE code_hash = ?")
                .bind(hash.as_bytes())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        match previous {
            Some(row) if column::<Option<i64>>(&row, "consumed_at")?.is_some() => Ok(
                CodeRedemption::Replayed(FamilyId::new(column::<String>(&row, "family_id")?)),
            ),
            _ => Ok(CodeRedemption::Invalid),
        }
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, idle_expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token.hash.as_bytes())
        .bind(token.family_id.as_str())
        .bind(token.scopes.to_string())
        .bind(token.issued_at.as_secs())
        .bind(token.idle_expires_at.as_secs())
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(RefreshTokenRecord, Family, bool)>, StoreError> {
        // One query for the token and its grant: this read is on every refresh.
        let row = sqlx::query(
            "SELECT r.family_id, r.scopes, r.issued_at, r.idle_expires_at, r.rotated_at,
                    f.id, f.client_id, f.user_id, f.scopes AS family_scopes, f.auth_time, f.amr, f.created_at,
                    f.expires_at, f.revoked_at
             FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
             WHERE r.token_hash = ?",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let record = refresh_from_row(&row, hash)?;
        let family = family_from_row(&row, "family_scopes")?;
        let rotated = column::<Option<i64>>(&row, "rotated_at")?.is_some();
        Ok(Some((record, family, rotated)))
    }

    async fn rotate_refresh_token(
        &self,
        hash: &SecretHash,
        successor: &RefreshTokenRecord,
        now: Timestamp,
    ) -> Result<RefreshRotation, StoreError> {
        // The successor is inserted only if this statement's UPDATE rotated the token:
        // `changes()` is the row count of the statement before it on this connection.
        let arguments = ScriptArguments::new()
            .push(now.as_secs())?
            .push(hash.as_bytes().to_vec())?
            .push(successor.hash.as_bytes().to_vec())?
            .push(successor.family_id.as_str().to_owned())?
            .push(successor.scopes.to_string())?
            .push(successor.issued_at.as_secs())?
            .push(successor.idle_expires_at.as_secs())?;
        let rotated = self
            .write_script(
                "BEGIN IMMEDIATE;
                 UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL
                 RETURNING (SELECT revoked_at FROM token_families f
                            WHERE f.id = refresh_tokens.family_id) AS family_revoked_at;
                 INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, idle_expires_at)
                 SELECT ?, ?, ?, ?, ? WHERE changes() = 1;
                 COMMIT;",
                arguments,
            )
            .await?;
        if let Some(row) = rotated.first() {
            return Ok(RefreshRotation::Fresh {
                family_revoked: column::<Option<i64>>(row, "family_revoked_at")?.is_some(),
            });
        }
        let row = sqlx::query(
            "SELECT r.rotated_at, f.revoked_at FROM refresh_tokens r
             JOIN token_families f ON f.id = r.family_id WHERE r.token_hash = ?",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(RefreshRotation::Invalid);
        };
        Ok(RefreshRotation::AlreadyRotated {
            at: Timestamp::from_secs(column::<Option<i64>>(&row, "rotated_at")?.unwrap_or_default()),
            family_revoked: column::<Option<i64>>(&row, "revoked_at")?.is_some(),
        })
    }

    async fn revoke_families_of(
        &self,
        user: Option<&UserId>,
        client: Option<&ClientId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        if user.is_none() && client.is_none() {
            return Err(StoreError::Corrupt(
                "revoking every family needs a user or a client".into(),
            ));
        }
        let (user, client) = (user.map(UserId::as_str), client.map(ClientId::as_str));
        let done = sqlx::query(
            "UPDATE token_families SET revoked_at = ? WHERE revoked_at IS NULL
             AND (? IS NULL OR user_id = ?) AND (? IS NULL OR client_id = ?)",
        )
        .bind(now.as_secs())
        .bind(user)
        .bind(user)
        .bind(client)
        .bind(client)
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn purge_families(&self, now: Timestamp, forget_before: Timestamp) -> Result<u64, StoreError> {
        // Spent or expired codes are kept an hour, so a late replay is still recognised.
        let codes = sqlx::query("DELETE FROM authorization_codes WHERE expires_at < ?")
            .bind(now.as_secs() - 3600)
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        let refresh = sqlx::query("DELETE FROM refresh_tokens WHERE idle_expires_at < ?")
            .bind(now.as_secs())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        // Revoked grants stay as long as the revocation list needs them (access tokens
        // outlive nothing past that); their rows cascade.
        let families = sqlx::query("DELETE FROM token_families WHERE expires_at < ? OR revoked_at < ?")
            .bind(forget_before.as_secs())
            .bind(forget_before.as_secs())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(codes.rows_affected() + refresh.rows_affected() + families.rows_affected())
    }

    async fn revoked_families_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(FamilyId, Timestamp)>, StoreError> {
        let rows = sqlx::query("SELECT id, revoked_at FROM token_families WHERE revoked_at >= ?")
            .bind(since.as_secs())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    FamilyId::new(column::<String>(row, "id")?),
                    Timestamp::from_secs(column::<i64>(row, "revoked_at")?),
                ))
            })
            .collect()
    }

    async fn revoke_family(&self, family: &FamilyId, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        sqlx::query("UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now.as_secs())
            .bind(family.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }
}
