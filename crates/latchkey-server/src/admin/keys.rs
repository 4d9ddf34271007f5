//! `/admin/v1/keys`: signing keys (public facts only) and rotation.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::audit::{AuditEvent, AuditKind};
use latchkey_core::keys::{Algorithm, KeyState, StoredKey, key_states};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Operator, Problem};
use crate::state::AppState;

/// A signing key: never its private part.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyInfo {
    kid: String,
    alg: String,
    /// next (published, not yet signing), active, retired (still published) or expired.
    state: String,
    created_at: i64,
    activates_at: i64,
}

fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Next => "next",
        KeyState::Active => "active",
        KeyState::Retired { .. } => "retired",
        KeyState::Expired { .. } => "expired",
    }
}

fn infos(app: &AppState, keys: &[StoredKey]) -> Vec<KeyInfo> {
    let states = key_states(keys, app.now(), app.config.rotation_policy().retention);
    keys.iter()
        .zip(states)
        .map(|(key, state)| KeyInfo {
            kid: key.kid.to_string(),
            alg: key.alg.to_string(),
            state: state_name(state).to_owned(),
            created_at: key.created_at.as_secs(),
            activates_at: key.activates_at.as_secs(),
        })
        .collect()
}

/// List signing keys with their rotation states.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "keys",
    responses((status = 200, body = Vec<KeyInfo>), (status = 401, body = Problem)))]
pub(crate) async fn list_keys(State(app): State<AppState>) -> Result<Json<Vec<KeyInfo>>, Problem> {
    let keys = app.store.list_keys().await?;
    Ok(Json(infos(&app, &keys)))
}

/// Start a rotation of both algorithms: new keys are published now and sign after the
/// pre-publication period.
#[utoipa::path(post, path = "/admin/v1/keys/rotate", tag = "keys",
    responses((status = 201, body = Vec<KeyInfo>), (status = 401, body = Problem)))]
pub(crate) async fn rotate_keys(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
) -> Result<(StatusCode, Json<Vec<KeyInfo>>), Problem> {
    let now = app.now();
    let mut created = Vec::new();
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let key = app
            .keys
            .rotate(app.store.as_ref(), alg, now)
            .await
            .map_err(|e| Problem::internal(&e))?;
        app.audit
            .record(
                AuditEvent::new(AuditKind::KeyCreated, now, &operator.actor())
                    .with("kid", key.kid.to_string())
                    .with("alg", key.alg.to_string())
                    .with("activates_at", key.activates_at.as_secs()),
            )
            .await;
        created.push(key);
    }
    let all = app.store.list_keys().await?;
    let mut listed = infos(&app, &all);
    listed.retain(|info| created.iter().any(|k| k.kid.as_str() == info.kid));
    Ok((StatusCode::CREATED, Json(listed)))
}

/// One signing key.
#[utoipa::path(get, path = "/admin/v1/keys/{kid}", tag = "keys", params(("kid" = String, Path)),
    responses((status = 200, body = KeyInfo), (status = 404, body = Problem)))]
pub(crate) async fn get_key(
    State(app): State<AppState>,
    axum::extract::Path(kid): axum::extract::Path<String>,
) -> Result<Json<KeyInfo>, Problem> {
    let keys = app.store.list_keys().await?;
    infos(&app, &keys)
        .into_iter()
        .find(|key| key.kid == kid)
        .map(Json)
        .ok_or_else(|| Problem::not_found("key"))
}
