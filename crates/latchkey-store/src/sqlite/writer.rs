//! The hot-path writes: each is a script (`BEGIN IMMEDIATE; ...; COMMIT;`) run by one task
//! that owns the writer connection while work is queued.
//!
//! Under load a SQLite write here costs far more in hand-offs than in SQLite: to the
//! connection's worker thread and back for every statement, and from one request's task to
//! the next through the pool on every release. A script is one trip to the worker thread
//! for all its statements, and the queue runs scripts back to back without releasing the
//! connection in between. Running them in their own task also means a request cancelled
//! half-way (a client hanging up) cannot leave the writer inside an open transaction.

use latchkey_core::error::StoreError;
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteRow};
use sqlx::{Arguments, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::{SqliteStore, store_error};

/// Scripts run back to back before the connection goes back to the pool, so that the
/// store's other writes (sessions, consents, revocations) still get their turn.
const BATCH: usize = 64;

struct Job {
    script: &'static str,
    arguments: SqliteArguments<'static>,
    reply: oneshot::Sender<Result<Vec<SqliteRow>, sqlx::Error>>,
}

/// The sending side of the queue; the task ends when the last store clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct ScriptQueue(mpsc::UnboundedSender<Job>);

impl ScriptQueue {
    /// Starts the task that runs scripts on `writer`, and the one that checkpoints the
    /// write-ahead log through `checkpointer` (the writer's own automatic checkpoints are
    /// off, see [`CHECKPOINT_EVERY`]).
    pub(super) fn start(writer: SqlitePool, checkpointer: SqlitePool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, receiver));
        tokio::spawn(checkpoint(checkpointer, sender.downgrade()));
        Self(sender)
    }
}

async fn run(writer: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut conn = match writer.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                let _ = first.reply.send(Err(e));
                continue;
            }
        };
        let mut next = Some(first);
        let mut done = 0;
        while let Some(job) = next.take() {
            let outcome = sqlx::query_with(job.script, job.arguments)
                .fetch_all(&mut *conn)
                .await;
            if outcome.is_err() {
                // Ends the transaction if a statement after BEGIN failed (and fails
                // harmlessly if BEGIN itself did).
                let _ = conn.execute("ROLLBACK").await;
            }
            // The caller may be gone (its request was cancelled); the write stands.
            let _ = job.reply.send(outcome);
            done += 1;
            if done < BATCH {
                next = jobs.try_recv().ok();
            }
        }
    }
}

/// How often the write-ahead log is copied back into the database file.
///
/// SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages,
/// and with `synchronous=NORMAL` it syncs the file to disk there: about half of what a
/// write costs on average, all of it on the one writer. Checkpointing from another
/// connection instead moves that sync off the critical path.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// WAL pages (4 KiB each) past which a checkpoint also starts the log over.
///
/// A PASSIVE checkpoint never waits for the writer or blocks it, but under steady writes
/// it never quite catches up either, and SQLite only starts the log over once everything
/// in it is copied and no reader is still using it: the file would grow without bound.
/// Past this size the checkpoint is RESTART, which holds new writes back while it copies
/// the few pages written since the PASSIVE one and waits for readers (single statements)
/// to leave the log; measured at 40-50 ms once a second under full load. The file then
/// stays at its high-water mark, about one second of writes at the peak rate.
const RESET_AT_PAGES: i64 = 8_192;

async fn checkpoint(pool: SqlitePool, store: mpsc::WeakUnboundedSender<Job>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if store.upgrade().is_none() {
            pool.close().await;
            return;
        }
        if let Err(e) = checkpoint_once(&pool).await {
            tracing::warn!(error = %e, "checkpointing the SQLite write-ahead log failed");
        }
    }
}

async fn checkpoint_once(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let passive = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    let pages: i64 = passive.try_get(1)?;
    if pages > RESET_AT_PAGES {
        let started = std::time::Instant::now();
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(pool)
            .await?;
        tracing::debug!(pages, took = ?started.elapsed(), "write-ahead log reset");
    }
    Ok(())
}

impl SqliteStore {
    /// Runs `script` (`BEGIN IMMEDIATE; ...; COMMIT;`, several statements sharing one list
    /// of positional arguments) on the writer and returns the rows its statements return.
    /// A failing statement rolls the whole script back.
    pub(crate) async fn write_script(
        &self,
        script: &'static str,
        arguments: ScriptArguments,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        debug_assert!(script.trim_start().starts_with("BEGIN") && script.trim_end().ends_with("COMMIT;"));
        let (reply, answer) = oneshot::channel();
        let job = Job {
            script,
            arguments: arguments.0,
            reply,
        };
        let stopped = || StoreError::Unavailable("the SQLite writer task has stopped".into());
        self.scripts.0.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(store_error)
    }
}

/// Builds the arguments of a [`SqliteStore::write_script`].
pub(crate) struct ScriptArguments(SqliteArguments<'static>);

impl ScriptArguments {
    pub(crate) fn new() -> Self {
        Self(SqliteArguments::default())
    }

    /// Appends the next positional argument.
    pub(crate) fn push<T>(mut self, value: T) -> Result<Self, StoreError>
    where
        T: sqlx::Encode<'static, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + 'static,
    {
        self.0.add(value).map_err(StoreError::Other)?;
        Ok(self)
    }
}
