//! The SQLite store: WAL mode so readers never block the writer, a busy timeout so the
//! admin commands and a running server can share the file, and every single-use rule as
//! one conditional statement.

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
mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::error::StoreError;
use latchkey_core::store::Store;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Executor, Row};

use crate::ConnectError;
use crate::migrate::SQLITE as MIGRATIONS;

/// A Latchkey store in a SQLite database file.
///
/// Reads share a pool; writes go through a single connection. SQLite admits one writer at
/// a time anyway, and a writer that finds the lock taken waits in SQLite's busy handler,
/// which sleeps in whole milliseconds: queueing writes in our own async pool instead keeps
/// latency flat under load. (Other processes, such as the admin commands, still meet the
/// busy timeout, which is what it is for.)
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    scripts: writer::ScriptQueue,
}

/// The file a `sqlite:` URL names, or `None` for an in-memory database.
pub fn database_path(url: &str) -> Result<Option<PathBuf>, ConnectError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
    let path = options.get_filename();
    Ok((!path.as_os_str().is_empty() && path.as_os_str() != ":memory:").then(|| path.to_path_buf()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and migrates it.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Switching a fresh file to WAL takes a lock before the busy timeout applies, so
        // two processes opening it at once can meet SQLITE_BUSY here: try again briefly.
        let mut attempt = 0;
        let writer = loop {
            let opened = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                // An embedded file has no network to fail: skip the ping sqlx would send
                // before every query (half of all round trips to the worker thread).
                .test_before_acquire(false)
                // Checkpoints run beside the writer instead (writer::CHECKPOINT_EVERY).
                .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
                .await;
            match opened {
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("5") && attempt < 50 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => break other.map_err(ConnectError::Connect)?,
            }
        };
        migrate(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false);
        let pool = readers
            .clone()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(ConnectError::Connect)?;
        // A checkpoint that must wait for readers gives up soon rather than keep holding
        // the writer back; the next one tries again.
        let checkpointer = readers
            .max_connections(1)
            .connect_lazy_with(options.busy_timeout(Duration::from_millis(250)));
        Ok(Self {
            pool,
            scripts: writer::ScriptQueue::start(writer.clone(), checkpointer),
            writer,
        })
    }
}

/// Applies pending migrations under `BEGIN IMMEDIATE`, so two processes starting on a
/// fresh file at once take turns instead of both creating tables.
async fn migrate(writer: &SqlitePool) -> Result<(), ConnectError> {
    let mut conn = writer.acquire().await.map_err(ConnectError::Connect)?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .await
    .map_err(ConnectError::Connect)?;
    for migration in MIGRATIONS {
        let failed = |source| ConnectError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        conn.execute("BEGIN IMMEDIATE").await.map_err(failed)?;
        let applied = sqlx::query("SELECT 1 FROM latchkey_migrations WHERE version = ?")
            .bind(migration.version)
            .fetch_optional(&mut *conn)
            .await;
        let outcome = match applied {
            Ok(Some(_)) => Ok(()),
            Ok(None) => apply(&mut conn, migration).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => conn.execute("COMMIT").await.map(|_| ()).map_err(failed)?,
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(failed(e));
            }
        }
    }
    probe_write(&mut conn).await?;
    let _ = conn.ping().await;
    Ok(())
}

/// Writes and rolls back: a database on a read-only file system opens, and even takes
/// `BEGIN IMMEDIATE`, but would fail every write; better not to start than to serve 503s.
async fn probe_write(conn: &mut sqlx::SqliteConnection) -> Result<(), ConnectError> {
    conn.execute("BEGIN IMMEDIATE")
        .await
        .map_err(ConnectError::Connect)?;
    let written = conn
        .execute("UPDATE latchkey_migrations SET applied_at = applied_at")
        .await;
    let _ = conn.execute("ROLLBACK").await;
    match written {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db))
            if db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| c & 0xff == 8) =>
        {
            Err(ConnectError::ReadOnly)
        }
        Err(other) => Err(ConnectError::Connect(other)),
    }
}

async fn apply(
    conn: &mut sqlx::SqliteConnection,
    migration: &crate::migrate::Migration,
) -> Result<(), sqlx::Error> {
    conn.execute(migration.sql).await?;
    sqlx::query("INSERT INTO latchkey_migrations (version, name, applied_at) VALUES (?, ?, unixepoch())")
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

/// SQLite result codes (primary code, the low byte of an extended one) that mean the
/// database cannot take the request now rather than that the request is wrong:
/// SQLITE_BUSY / SQLITE_LOCKED after the busy timeout (the writer is stuck),
/// SQLITE_READONLY (file or file system made read-only), SQLITE_IOERR, SQLITE_FULL
/// (disk full) and SQLITE_CANTOPEN. The write is rolled back and nothing is lost.
fn is_unavailable(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// Reads a column, mapping a type mismatch to `Corrupt`.
pub(crate) fn column<'r, T>(row: &'r sqlx::sqlite::SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

#[async_trait]
impl Store for SqliteStore {
    fn pool_status(&self) -> Vec<latchkey_core::store::PoolStatus> {
        vec![
            crate::pool_status("readers", &self.pool),
            crate::pool_status("writer", &self.writer),
        ]
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
