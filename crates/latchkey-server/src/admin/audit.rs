//! `/admin/v1/audit`: the audit trail, filtered, newest first.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use latchkey_core::audit::{AuditKind, AuditQuery};
use latchkey_core::clock::Timestamp;
use latchkey_core::id::{ClientId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Problem;
use crate::state::AppState;

/// Filters; every one narrows the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// At or after (Unix seconds).
    since: Option<i64>,
    /// Before (Unix seconds).
    until: Option<i64>,
    /// Concerning this user (`sub`).
    subject: Option<String>,
    /// Concerning this client.
    client_id: Option<String>,
    /// Of this kind, e.g. `token.issued`, `login.failed`, `refresh.reuse_detected`.
    kind: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<i64>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventInfo {
    id: i64,
    /// Unix seconds.
    at: i64,
    kind: String,
    subject: Option<String>,
    client_id: Option<String>,
    /// Who caused it: `user:ID`, `client:ID`, `cli`, `system` or `anonymous`.
    actor: String,
    /// The facts: grant type, scopes, jti, grant id, reason. Never a secret or token.
    #[schema(value_type = Object)]
    detail: serde_json::Map<String, serde_json::Value>,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventPage {
    items: Vec<EventInfo>,
    /// Pass as `after` for older events; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

/// Query the audit trail.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, body = EventPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub(crate) async fn list_audit(
    State(app): State<AppState>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<EventPage>, Problem> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "limit must be between 1 and 1000.",
        ));
    }
    let kind = filter
        .kind
        .as_deref()
        .map(str::parse::<AuditKind>)
        .transpose()
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let query = AuditQuery {
        since: filter.since.map(Timestamp::from_secs),
        until: filter.until.map(Timestamp::from_secs),
        subject: filter.subject.map(UserId::new),
        client_id: filter.client_id.map(ClientId::new),
        kind,
        before_id: filter.after,
        limit: limit + 1,
    };
    let mut events = app.store.list_audit_events(&query).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = more.then(|| events.last().map(|e| e.id)).flatten();
    let items = events
        .into_iter()
        .map(|e| EventInfo {
            id: e.id,
            at: e.at.as_secs(),
            kind: e.kind.as_str().to_owned(),
            subject: e.subject.map(|s| s.to_string()),
            client_id: e.client_id.map(|c| c.to_string()),
            actor: e.actor,
            detail: e.detail,
        })
        .collect();
    Ok(Json(EventPage { items, next }))
}
