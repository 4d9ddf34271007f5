//! A PostgreSQL schema of its own for each test, so the tests of every crate can share one
//! server and run in parallel. Copy this module to give another crate's tests the same.
//!
//! The server comes from `LATCHKEY_TEST_POSTGRES_URL`; when it is unset,
//! [`TestSchema::create`] prints `skipped: LATCHKEY_TEST_POSTGRES_URL unset` and the test
//! returns early.

use std::error::Error;
use std::hash::BuildHasher;

use sqlx::{Connection, Executor, PgConnection};

/// The variable naming the PostgreSQL server the tests may use.
pub(crate) const POSTGRES_URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// A fresh, empty schema, dropped (best effort) when this value is dropped, even when the
/// test panicked.
#[derive(Debug)]
pub(crate) struct TestSchema {
    server_url: String,
    name: String,
    url: String,
}

impl TestSchema {
    /// Creates `lk_test_<16 random hex digits>` on the server; `None` when the variable is
    /// unset or empty.
    pub(crate) async fn create() -> Option<Self> {
        let Some(server_url) = std::env::var(POSTGRES_URL_VAR).ok().filter(|url| !url.is_empty()) else {
            println!("skipped: {POSTGRES_URL_VAR} unset");
            return None;
        };
        let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        let name = format!("lk_test_{random:016x}");
        let mut conn = PgConnection::connect(&server_url).await.unwrap();
        conn.execute(&*format!(r#"CREATE SCHEMA "{name}""#))
            .await
            .unwrap();
        conn.close().await.unwrap();
        // `options` is passed to the server at connection start (libpq's meaning), so every
        // pooled connection lands in the schema; `application_name` lets a test find its
        // own sessions in `pg_stat_activity`.
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{name}&application_name={name}");
        Some(Self {
            server_url,
            name,
            url,
        })
    }

    /// The URL to hand to `latchkey_store::connect`: the server's, confined to this schema.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name (also each session's `application_name`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A plain connection inside the schema, for looking behind the store.
    pub(crate) async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // A runtime cannot block on itself, so the drop runs on a thread with its own.
        let dropped = std::thread::spawn(move || -> Result<(), Box<dyn Error + Send + Sync>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server_url).await?;
                conn.execute("SET lock_timeout = '5s'").await?;
                conn.execute(&*format!(r#"DROP SCHEMA IF EXISTS "{name}" CASCADE"#))
                    .await?;
                conn.close().await?;
                Ok(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}
