//! `/admin/v1/scopes`: scopes and the descriptions consent pages show.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_core::scope::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonBody, Operator, Page, PageQuery, Problem, paginate};
use crate::state::AppState;

/// A scope and what it lets a client do, in words for the user.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScopeInfo {
    scope: String,
    description: String,
    /// Granted only to users who hold it through a role.
    restricted: bool,
}

/// A scope's description.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeText {
    description: String,
    /// Grant it only to users who hold it through a role (default false).
    #[serde(default)]
    restricted: bool,
}

/// List scopes.
#[utoipa::path(get, path = "/admin/v1/scopes", tag = "scopes", params(PageQuery),
    responses((status = 200, body = Page<ScopeInfo>), (status = 401, body = Problem)))]
pub(crate) async fn list_scopes(
    State(app): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ScopeInfo>>, Problem> {
    let scopes = app.store.list_scopes().await?;
    let restricted = app.store.restricted_scopes().await?;
    let infos = scopes
        .into_iter()
        .map(|s| ScopeInfo {
            restricted: restricted.contains(s.scope.as_str()),
            scope: s.scope.to_string(),
            description: s.description,
        })
        .collect();
    Ok(Json(paginate(infos, |s: &ScopeInfo| s.scope.clone(), &page)?))
}

/// Create a scope, or change its description.
#[utoipa::path(put, path = "/admin/v1/scopes/{scope}", tag = "scopes", params(("scope" = String, Path)), request_body = ScopeText,
    responses((status = 200, body = ScopeInfo), (status = 400, body = Problem)))]
pub(crate) async fn put_scope(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(name): Path<String>,
    JsonBody(text): JsonBody<ScopeText>,
) -> Result<Json<ScopeInfo>, Problem> {
    let scope = Scope::parse(&name).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let description = text.description.trim();
    if description.is_empty() || description.len() > 500 || description.chars().any(char::is_control) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "The description must be 1 to 500 characters of text without control characters.",
        ));
    }
    app.store.describe_scope(&scope, description).await?;
    app.store.set_scope_restricted(&scope, text.restricted).await?;
    app.forget_restricted_scopes();
    Ok(Json(ScopeInfo {
        scope: scope.to_string(),
        description: description.to_owned(),
        restricted: text.restricted,
    }))
}

/// The scopes every Latchkey knows (OpenID Connect's and `offline_access`).
const BUILT_IN: [&str; 5] = ["openid", "profile", "email", "offline_access", "roles"];

/// Delete a scope no client is allowed any more (built-in scopes stay).
#[utoipa::path(delete, path = "/admin/v1/scopes/{scope}", tag = "scopes", params(("scope" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn delete_scope(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    let scope = Scope::parse(&name).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    if BUILT_IN.contains(&scope.as_str()) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Built-in scopes cannot be deleted.",
        ));
    }
    let users = app
        .store
        .list_clients()
        .await?
        .iter()
        .filter(|client| client.scopes.contains(scope.as_str()))
        .count();
    if users > 0 {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("{users} client(s) may still ask for this scope; change them first."),
        ));
    }
    if app.store.delete_scope(&scope).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("scope"))
    }
}
