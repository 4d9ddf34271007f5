//! Latchkey's storage: the core store traits implemented once per database.
//!
//! SQLite (embedded, the default) lives in [`sqlite`]; PostgreSQL, for several nodes
//! sharing one database, in [`postgres`]. Queries are checked at run time, not compile
//! time, because one crate serves several databases; the contract tests in
//! `tests/contract.rs` are the safety net and run against every backend.

mod migrate;
pub mod postgres;
pub mod sqlite;
mod timed;

use std::sync::Arc;

use latchkey_core::store::Store;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names a database we do not support.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
    /// The URL is malformed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Connecting failed.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The database opens but cannot be written (read-only file system or file).
    #[error(
        "the database is read-only (is its file system mounted read-only, or the file not writable?): Latchkey must be able to write to it"
    )]
    ReadOnly,
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's number.
        version: i64,
        /// Its file name.
        name: &'static str,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
}

/// Opens the database at `url`, applying any pending migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, ConnectError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(timed::TimedStore::new(Arc::new(
            sqlite::SqliteStore::connect(url).await?,
        ))))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(timed::TimedStore::new(Arc::new(
            postgres::PostgresStore::connect(url).await?,
        ))))
    } else {
        Err(ConnectError::UnsupportedUrl(url.to_owned()))
    }
}

/// A sqlx pool's occupancy.
pub(crate) fn pool_status<DB: sqlx::Database>(
    name: &'static str,
    pool: &sqlx::Pool<DB>,
) -> latchkey_core::store::PoolStatus {
    latchkey_core::store::PoolStatus {
        name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
