//! `/admin/v1/clients`: the client registry.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_core::audit::{AuditEvent, AuditKind};
use latchkey_core::client::{Client, RedirectUri};
use latchkey_core::grants;
use latchkey_core::id::ClientId;
use latchkey_core::registry::{self, ClientRegistration, RegistryError};
use latchkey_core::secret::ClientSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonBody, Operator, Page, PageQuery, Problem, paginate};
use crate::state::AppState;

/// A client, as RFC 7591 §3.2.1 client information.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientInfo {
    client_id: String,
    client_id_issued_at: i64,
    client_name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    /// Allowed scopes, space-separated.
    scope: String,
    token_endpoint_auth_method: String,
    id_token_signed_response_alg: String,
    /// Only in the answer that created or rotated it: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<i64>,
}

impl ClientInfo {
    fn of(client: &Client, secret: Option<&ClientSecret>) -> Self {
        Self {
            client_id: client.id.to_string(),
            client_id_issued_at: client.created_at.as_secs(),
            client_name: client.name.clone(),
            redirect_uris: client
                .redirect_uris
                .iter()
                .map(RedirectUri::as_str)
                .map(str::to_owned)
                .collect(),
            grant_types: client.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
            scope: client.scopes.to_string(),
            token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
            id_token_signed_response_alg: client.id_token_alg.as_str().to_owned(),
            client_secret: secret.map(|s| s.expose().to_owned()),
            client_secret_expires_at: secret.map(|_| 0),
        }
    }
}

/// A client to register (RFC 7591 field names).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewClient {
    client_name: String,
    /// Grant type names; empty means the default for the client's shape.
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Allowed scopes, space-separated.
    #[serde(default)]
    scope: Option<String>,
    /// A public client (no secret; `none` authentication, PKCE).
    #[serde(default)]
    public: bool,
    token_endpoint_auth_method: Option<String>,
    id_token_signed_response_alg: Option<String>,
}

/// The answer to a secret rotation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewSecret {
    client_id: String,
    /// Shown only this once.
    client_secret: String,
}

/// How many grants an operation revoked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Revoked {
    /// Grants (token families) revoked, with every token issued under them.
    revoked_grants: u64,
}

impl Revoked {
    pub(crate) fn new(revoked_grants: u64) -> Json<Self> {
        Json(Self { revoked_grants })
    }
}

fn registry_problem(error: RegistryError) -> Problem {
    match error {
        RegistryError::Invalid(why) => Problem::new(StatusCode::BAD_REQUEST, why),
        RegistryError::NotFound(_) => Problem::not_found("client"),
        RegistryError::PublicClient(_) => Problem::new(StatusCode::CONFLICT, error.to_string()),
        RegistryError::Store(error) => Problem::from(error),
    }
}

/// List clients (never their secrets).
#[utoipa::path(get, path = "/admin/v1/clients", tag = "clients", params(PageQuery),
    responses((status = 200, body = Page<ClientInfo>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub(crate) async fn list_clients(
    State(app): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ClientInfo>>, Problem> {
    let clients = app.store.list_clients().await?;
    let infos = clients.iter().map(|c| ClientInfo::of(c, None)).collect();
    Ok(Json(paginate(
        infos,
        |c: &ClientInfo| c.client_id.clone(),
        &page,
    )?))
}

/// Register a client; the answer holds its secret, shown only this once.
#[utoipa::path(post, path = "/admin/v1/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, body = ClientInfo), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub(crate) async fn create_client(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    JsonBody(new): JsonBody<NewClient>,
) -> Result<(StatusCode, Json<ClientInfo>), Problem> {
    let registration = ClientRegistration {
        name: new.client_name,
        grant_types: new.grant_types,
        redirect_uris: new.redirect_uris,
        scopes: new
            .scope
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        public: new.public,
        auth_method: new.token_endpoint_auth_method,
        id_token_alg: new.id_token_signed_response_alg,
    };
    let now = app.now();
    let (client, secret) = registry::register_client(app.store.as_ref(), &app.hasher, &registration, now)
        .await
        .map_err(registry_problem)?;
    app.audit
        .record(
            AuditEvent::new(AuditKind::ClientCreated, now, &operator.actor())
                .client(&client.id)
                .with("client_name", client.name.as_str()),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(ClientInfo::of(&client, secret.as_ref())),
    ))
}

/// One client.
#[utoipa::path(get, path = "/admin/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)),
    responses((status = 200, body = ClientInfo), (status = 404, body = Problem)))]
pub(crate) async fn get_client(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ClientInfo>, Problem> {
    let client = app
        .store
        .find_client(&ClientId::new(id))
        .await?
        .ok_or_else(|| Problem::not_found("client"))?;
    Ok(Json(ClientInfo::of(&client, None)))
}

/// Delete a client (its grants and tokens stop working on every node within the cache lifetime).
#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn delete_client(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = ClientId::new(id);
    if !app.store.delete_client(&id).await? {
        return Err(Problem::not_found("client"));
    }
    app.forget_client(&id);
    app.audit
        .record(AuditEvent::new(AuditKind::ClientDeleted, app.now(), &operator.actor()).client(&id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a confidential client's secret; the old one stops working.
#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/secret", tag = "clients", params(("client_id" = String, Path)),
    responses((status = 200, body = NewSecret), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn rotate_secret(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<Json<NewSecret>, Problem> {
    let id = ClientId::new(id);
    let secret = registry::rotate_client_secret(app.store.as_ref(), &app.hasher, &id)
        .await
        .map_err(registry_problem)?;
    app.forget_client(&id);
    app.audit
        .record(AuditEvent::new(AuditKind::ClientSecretRotated, app.now(), &operator.actor()).client(&id))
        .await;
    Ok(Json(NewSecret {
        client_id: id.to_string(),
        client_secret: secret.expose().to_owned(),
    }))
}

/// Revoke every grant of this client, for every user, with all their tokens.
#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/revoke-tokens", tag = "clients", params(("client_id" = String, Path)),
    responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
pub(crate) async fn revoke_client_tokens(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, Problem> {
    let id = ClientId::new(id);
    if app.store.find_client(&id).await?.is_none() {
        return Err(Problem::not_found("client"));
    }
    let revoked = grants::revoke_all_of(&app, None, Some(&id), &operator.actor(), app.now()).await?;
    Ok(Revoked::new(revoked))
}

/// Changes to a client's metadata; absent fields keep their value. The id, the secret and
/// the authentication method (public or confidential) never change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientChanges {
    client_name: Option<String>,
    grant_types: Option<Vec<String>>,
    redirect_uris: Option<Vec<String>>,
    /// Allowed scopes, space-separated.
    scope: Option<String>,
    id_token_signed_response_alg: Option<String>,
}

/// Change a client's metadata.
#[utoipa::path(patch, path = "/admin/v1/clients/{client_id}", tag = "clients", params(("client_id" = String, Path)), request_body = ClientChanges,
    responses((status = 200, body = ClientInfo), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn update_client(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    JsonBody(changes): JsonBody<ClientChanges>,
) -> Result<Json<ClientInfo>, Problem> {
    let id = ClientId::new(id);
    let current = app
        .store
        .find_client(&id)
        .await?
        .ok_or_else(|| Problem::not_found("client"))?;
    let registration = ClientRegistration {
        name: changes.client_name.unwrap_or_else(|| current.name.clone()),
        grant_types: changes.grant_types.unwrap_or_else(|| {
            current
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect()
        }),
        redirect_uris: changes.redirect_uris.unwrap_or_else(|| {
            current
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect()
        }),
        scopes: changes.scope.map_or_else(
            || current.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            |s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            },
        ),
        public: current.is_public(),
        auth_method: None,
        id_token_alg: Some(
            changes
                .id_token_signed_response_alg
                .unwrap_or_else(|| current.id_token_alg.as_str().to_owned()),
        ),
    };
    let updated = registry::update_client(app.store.as_ref(), &id, &registration)
        .await
        .map_err(registry_problem)?;
    app.forget_client(&id);
    app.audit
        .record(AuditEvent::new(AuditKind::ClientUpdated, app.now(), &operator.actor()).client(&id))
        .await;
    Ok(Json(ClientInfo::of(&updated, None)))
}
