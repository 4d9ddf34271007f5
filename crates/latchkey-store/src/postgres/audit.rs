//! The audit trail: appended in batches, read newest first.

use async_trait::async_trait;
use latchkey_core::audit::{AuditEvent, AuditKind, AuditQuery};
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::{ClientId, UserId};
use latchkey_core::store::AuditStore;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

use super::{PostgresStore, column, store_error};

fn event_from_row(row: &PgRow) -> Result<AuditEvent, StoreError> {
    let kind: String = column(row, "kind")?;
    let detail: String = column(row, "detail")?;
    Ok(AuditEvent {
        id: column(row, "id")?,
        at: Timestamp::from_secs(column(row, "at")?),
        kind: kind
            .parse::<AuditKind>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        subject: column::<Option<String>>(row, "subject")?.map(UserId::new),
        client_id: column::<Option<String>>(row, "client_id")?.map(ClientId::new),
        actor: column(row, "actor")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
    })
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn insert_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO audit_events (at, kind, subject, client_id, actor, detail) ",
        );
        insert.push_values(events, |mut row, event| {
            row.push_bind(event.at.as_secs())
                .push_bind(event.kind.as_str())
                .push_bind(event.subject.as_ref().map(UserId::as_str))
                .push_bind(event.client_id.as_ref().map(ClientId::as_str))
                .push_bind(&event.actor)
                .push_bind(serde_json::Value::Object(event.detail.clone()).to_string());
        });
        // Not kept in the statement cache: every batch size is a different statement, and
        // a cached prepared insert of hundreds of rows is large.
        insert
            .build()
            .persistent(false)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut select = QueryBuilder::<Postgres>::new(
            "SELECT id, at, kind, subject, client_id, actor, detail FROM audit_events WHERE 1 = 1",
        );
        if let Some(since) = query.since {
            select.push(" AND at >= ").push_bind(since.as_secs());
        }
        if let Some(until) = query.until {
            select.push(" AND at < ").push_bind(until.as_secs());
        }
        if let Some(subject) = &query.subject {
            select.push(" AND subject = ").push_bind(subject.as_str());
        }
        if let Some(client) = &query.client_id {
            select.push(" AND client_id = ").push_bind(client.as_str());
        }
        if let Some(kind) = query.kind {
            select.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = query.before_id {
            select.push(" AND id < ").push_bind(before);
        }
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows = select.build().fetch_all(&self.pool).await.map_err(store_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn purge_audit_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before.as_secs())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }
}
