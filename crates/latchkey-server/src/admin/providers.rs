//! `/admin/v1/providers`: upstream OpenID Connect providers users may sign in through.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latchkey_core::federation::{
    PlainOAuth, UpstreamProvider, provider_scopes, seal_client_secret, validate_provider,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JsonBody, Operator, Problem};
use crate::state::AppState;

/// A provider (never its client secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProviderInfo {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    scopes: String,
    /// The redirect URI to register at the provider.
    redirect_uri: String,
}

/// A provider's settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderBody {
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// For a plain OAuth 2.0 server: `authorize_url`, `token_url`, `userinfo_url`, and the
    /// user-info members `subject_field`, `email_field`, `username_field`, `name_field`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    oauth2: Option<PlainOAuth>,
}

fn info(app: &AppState, p: UpstreamProvider) -> ProviderInfo {
    ProviderInfo {
        redirect_uri: format!("{}/login/upstream/{}/callback", app.config.issuer, p.id),
        id: p.id,
        name: p.name,
        issuer: p.issuer,
        client_id: p.client_id,
        scopes: p.scopes,
    }
}

/// List providers.
#[utoipa::path(get, path = "/admin/v1/providers", tag = "providers",
    responses((status = 200, body = [ProviderInfo]), (status = 401, body = Problem)))]
pub(crate) async fn list_providers(State(app): State<AppState>) -> Result<Json<Vec<ProviderInfo>>, Problem> {
    let providers = app.store.list_providers().await?;
    Ok(Json(providers.into_iter().map(|p| info(&app, p)).collect()))
}

/// Add a provider, or replace one.
#[utoipa::path(put, path = "/admin/v1/providers/{id}", tag = "providers", params(("id" = String, Path)), request_body = ProviderBody,
    responses((status = 200, body = ProviderInfo), (status = 400, body = Problem)))]
pub(crate) async fn put_provider(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ProviderBody>,
) -> Result<Json<ProviderInfo>, Problem> {
    let name = body.name.trim().to_owned();
    validate_provider(&id, &name, &body.issuer, &body.client_id)
        .map_err(|why| Problem::new(StatusCode::BAD_REQUEST, why))?;
    if let Some(plain) = &body.oauth2 {
        plain
            .validate()
            .map_err(|why| Problem::new(StatusCode::BAD_REQUEST, why))?;
    }
    if body.client_secret.is_empty() || body.client_secret.len() > 1024 {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "The client secret must be 1 to 1024 characters.",
        ));
    }
    let provider = UpstreamProvider {
        sealed_secret: seal_client_secret(&app.mfa_sealer, &id, &body.client_secret),
        id,
        name,
        issuer: body.issuer,
        client_id: body.client_id,
        scopes: if body.oauth2.is_some() {
            body.scopes.join(" ")
        } else {
            provider_scopes(&body.scopes)
        },
        oauth2: body.oauth2,
        created_at: app.now(),
    };
    app.store.put_provider(&provider).await?;
    Ok(Json(info(&app, provider)))
}

/// Delete a provider (linked identities stay, and work again if it comes back).
#[utoipa::path(delete, path = "/admin/v1/providers/{id}", tag = "providers", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn delete_provider(
    State(app): State<AppState>,
    Extension(_operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if app.store.delete_provider(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("provider"))
    }
}
