//! `/admin/v1/roles` and `/admin/v1/users/{user_id}/roles`: roles are named sets of
//! permissions (scopes); a restricted scope is granted only to users holding it this way.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_core::audit::{AuditEvent, AuditKind};
use latchkey_core::roles::{Role, validate_name};
use latchkey_core::scope::{Scope, ScopeSet};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonBody, Operator, Page, PageQuery, Problem, paginate, users};
use crate::state::AppState;

/// A role and the permissions it gives.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleInfo {
    name: String,
    description: String,
    scopes: Vec<String>,
}

impl From<Role> for RoleInfo {
    fn from(role: Role) -> Self {
        Self {
            name: role.name,
            description: role.description,
            scopes: role.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }
}

/// What a role is: its description and every permission it gives.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    #[serde(default)]
    description: String,
    scopes: Vec<String>,
}

/// List roles.
#[utoipa::path(get, path = "/admin/v1/roles", tag = "roles", params(PageQuery),
    responses((status = 200, body = Page<RoleInfo>), (status = 401, body = Problem)))]
pub(crate) async fn list_roles(
    State(app): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<RoleInfo>>, Problem> {
    let roles: Vec<RoleInfo> = app
        .store
        .list_roles()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(paginate(roles, |r: &RoleInfo| r.name.clone(), &page)?))
}

/// Create a role, or replace its description and permissions.
#[utoipa::path(put, path = "/admin/v1/roles/{name}", tag = "roles", params(("name" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = RoleInfo), (status = 400, body = Problem)))]
pub(crate) async fn put_role(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<RoleInfo>, Problem> {
    validate_name(&name).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let description = body.description.trim().to_owned();
    if description.len() > 500 || description.chars().any(char::is_control) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "The description must be at most 500 characters without control characters.",
        ));
    }
    let scopes: ScopeSet = body
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<_, _>>()
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    app.store.ensure_scopes(&scopes).await?;
    let role = Role {
        name,
        description,
        scopes,
    };
    app.store.put_role(&role, app.now()).await?;
    Ok(Json(role.into()))
}

/// Delete a role: every user holding it loses it.
#[utoipa::path(delete, path = "/admin/v1/roles/{name}", tag = "roles", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn delete_role(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    if app.store.delete_role(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("role"))
    }
}

/// The roles a user holds.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}/roles", tag = "roles", params(("user_id" = String, Path)),
    responses((status = 200, body = [RoleInfo]), (status = 404, body = Problem)))]
pub(crate) async fn list_user_roles(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RoleInfo>>, Problem> {
    let found = users::find(&app, &id).await?;
    let roles = app.store.user_roles(&found.id).await?;
    Ok(Json(roles.into_iter().map(Into::into).collect()))
}

/// Give a user a role.
#[utoipa::path(put, path = "/admin/v1/users/{user_id}/roles/{name}", tag = "roles", params(("user_id" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn grant_user_role(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let found = users::find(&app, &id).await?;
    if !app.store.grant_role(&found.id, &name).await? {
        return Err(Problem::not_found("role"));
    }
    app.audit
        .record(
            AuditEvent::new(AuditKind::RoleGranted, app.now(), &operator.actor())
                .subject(&found.id)
                .with("role", name),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a role from a user (their next refresh drops its restricted scopes).
#[utoipa::path(delete, path = "/admin/v1/users/{user_id}/roles/{name}", tag = "roles", params(("user_id" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_user_role(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let found = users::find(&app, &id).await?;
    if !app.store.revoke_role(&found.id, &name).await? {
        return Err(Problem::not_found("role held by this user"));
    }
    app.audit
        .record(
            AuditEvent::new(AuditKind::RoleRevoked, app.now(), &operator.actor())
                .subject(&found.id)
                .with("role", name),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
