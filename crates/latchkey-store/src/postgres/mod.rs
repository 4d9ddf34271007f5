//! The PostgreSQL store, for several nodes sharing one database: one pool for reads and
//! writes (row locks do what SQLite's single writer does), every single-use rule as one
//! conditional statement, and migrations serialised across nodes by an advisory lock.

mod audit;
mod clients;
mod devices;
mod families;
mod federation;
mod keys;
mod mfa;
mod passkeys;
mod revocations;
mod roles;
mod scopes;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::error::StoreError;
use latchkey_core::store::Store;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, Row};

use crate::ConnectError;
use crate::migrate::{Migration, POSTGRES as MIGRATIONS};

/// The advisory-lock key every node takes while migrating: "latchkey" in ASCII.
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579;

/// A Latchkey store in a PostgreSQL database.
///
/// The database, user and schema come from the URL (`postgres://user:pass@host/db`; a
/// schema other than `public` via `?options=-c%20search_path%3DNAME`). Connections are
/// tested before use, so a database that restarts is picked up again without a restart of
/// ours; while it is away, calls fail with `StoreError::Unavailable`.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` and migrates it.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        migrate(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(600))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(ConnectError::Connect)?;
        Ok(Self { pool })
    }
}

/// Applies pending migrations on a connection of its own, holding a session-level advisory
/// lock throughout, so nodes starting together take turns and each migration runs once.
/// Closing the connection ends the session, which releases the lock even if unlocking
/// failed or a migration broke off halfway.
async fn migrate(options: &PgConnectOptions) -> Result<(), ConnectError> {
    let mut conn = PgConnection::connect_with(options)
        .await
        .map_err(ConnectError::Connect)?;
    let outcome = migrate_locked(&mut conn).await;
    let _ = conn.close().await;
    outcome
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<(), ConnectError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(ConnectError::Connect)?;
    let outcome = apply_pending(conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    outcome?;
    unlocked.map(|_| ()).map_err(ConnectError::Connect)
}

async fn apply_pending(conn: &mut PgConnection) -> Result<(), ConnectError> {
    // Under the lock: `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent twin.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(ConnectError::Connect)?;
    for migration in MIGRATIONS {
        let failed = |source| ConnectError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        let mut tx = conn.begin().await.map_err(failed)?;
        let applied = sqlx::query("SELECT 1 FROM latchkey_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
        if applied.is_none() {
            apply(&mut tx, migration).await.map_err(failed)?;
        }
        // Dropping `tx` on an error above rolls it back.
        tx.commit().await.map_err(failed)?;
    }
    Ok(())
}

async fn apply(conn: &mut PgConnection, migration: &Migration) -> Result<(), sqlx::Error> {
    // A bare string goes over the simple-query protocol, which runs several statements.
    conn.execute(migration.sql).await?;
    sqlx::query(
        "INSERT INTO latchkey_migrations (version, name, applied_at)
         VALUES ($1, $2, extract(epoch FROM now())::BIGINT)",
    )
    .bind(migration.version)
    .bind(migration.name)
    .execute(&mut *conn)
    .await?;
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied migration"
    );
    Ok(())
}

/// Maps a sqlx error into the store's vocabulary.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
            db.constraint()
                .map_or_else(|| db.message().to_owned(), str::to_owned),
        ),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(error))
        }
        sqlx::Error::Database(ref db) if db.code().as_deref().is_some_and(is_unavailable) => {
            StoreError::Unavailable(Box::new(error))
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// SQLSTATEs that mean the server, not the statement, is the problem: class 08
/// (connection exception), 57P01..57P03 (admin or crash shutdown, cannot connect now)
/// 53300 (too many connections), class 53 disk full and out of memory (53100, 53200), and
/// 25006 (the server is a read-only standby or in read-only mode).
fn is_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53100" | "53200" | "53300" | "25006"
        )
}

/// Reads a column, mapping a type mismatch to `Corrupt`.
pub(crate) fn column<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

#[async_trait]
impl Store for PostgresStore {
    fn pool_status(&self) -> Vec<latchkey_core::store::PoolStatus> {
        vec![crate::pool_status("pool", &self.pool)]
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use latchkey_core::error::StoreError;

    use super::{is_unavailable, store_error};

    #[test]
    fn a_pool_that_cannot_serve_means_unavailable() {
        for error in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(store_error(error), StoreError::Unavailable(_)));
        }
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }

    #[test]
    fn connection_class_sqlstates_mean_unavailable() {
        for code in ["08000", "08006", "08P01", "57P01", "57P02", "57P03", "53300"] {
            assert!(is_unavailable(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "57014"] {
            assert!(!is_unavailable(code), "{code}");
        }
    }
}
