//! `/admin/v1/users`: resource owners, their grants, and revoking them.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use latchkey_core::audit::{AuditEvent, AuditKind};
use latchkey_core::grants;
use latchkey_core::id::{ClientId, UserId};
use latchkey_core::login::run_hashing;
use latchkey_core::user::{self, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clients::Revoked;
use super::{JsonBody, Operator, Page, PageQuery, Problem, paginate};
use crate::state::AppState;

/// A user (never their password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserInfo {
    /// The stable id: the `sub` claim.
    sub: String,
    username: String,
    email: Option<String>,
    name: Option<String>,
    created_at: i64,
}

impl From<&User> for UserInfo {
    fn from(user: &User) -> Self {
        Self {
            sub: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            created_at: user.created_at.as_secs(),
        }
    }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    username: String,
    password: String,
    email: Option<String>,
    name: Option<String>,
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    password: String,
}

/// One client a user approved.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GrantInfo {
    client_id: String,
    client_name: String,
    /// Approved scopes, space-separated.
    scope: String,
    first_granted: i64,
    /// When a token was last issued under it, within the audit trail's retention.
    last_used: Option<i64>,
    /// Whether the client holds a live refresh token.
    offline_access: bool,
}

async fn hash(password: String) -> Result<String, Problem> {
    user::validate_password(&password).map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    run_hashing(move || user::hash_password(&password))
        .await?
        .map_err(|e| Problem::internal(&e))
}

pub(super) async fn find(app: &AppState, id: &str) -> Result<User, Problem> {
    app.store
        .find_user(&UserId::new(id))
        .await?
        .ok_or_else(|| Problem::not_found("user"))
}

/// List users.
#[utoipa::path(get, path = "/admin/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<UserInfo>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub(crate) async fn list_users(
    State(app): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<UserInfo>>, Problem> {
    let users = app.store.list_users().await?;
    let infos = users.iter().map(UserInfo::from).collect();
    Ok(Json(paginate(infos, |u: &UserInfo| u.sub.clone(), &page)?))
}

/// Create a user.
#[utoipa::path(post, path = "/admin/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn create_user(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    JsonBody(new): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserInfo>), Problem> {
    user::validate_username(&new.username)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    user::validate_profile(new.email.as_deref(), new.name.as_deref())
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let hashed = hash(new.password).await?;
    let now = app.now();
    let created = User {
        id: UserId::generate(),
        username: new.username,
        email: new.email,
        name: new.name,
        created_at: now,
    };
    match app.store.insert_user(&created, &hashed).await {
        Err(latchkey_core::StoreError::Conflict(_)) => {
            return Err(Problem::new(StatusCode::CONFLICT, "That username is taken."));
        }
        other => other?,
    }
    app.audit
        .record(AuditEvent::new(AuditKind::UserCreated, now, &operator.actor()).subject(&created.id))
        .await;
    Ok((StatusCode::CREATED, Json(UserInfo::from(&created))))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = UserInfo), (status = 404, body = Problem)))]
pub(crate) async fn get_user(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserInfo>, Problem> {
    Ok(Json(UserInfo::from(&find(&app, &id).await?)))
}

/// Delete a user, with their sessions, consents and grants.
#[utoipa::path(delete, path = "/admin/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn delete_user(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let found = find(&app, &id).await?;
    let now = app.now();
    // Their tokens die first (the revocation list learns the grants), then the rows go.
    grants::revoke_all_of(&app, Some(&found.id), None, &operator.actor(), now).await?;
    app.store.delete_user(&found.id).await?;
    app.audit
        .record(AuditEvent::new(AuditKind::UserDeleted, now, &operator.actor()).subject(&found.id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a user's password (their sessions end).
#[utoipa::path(put, path = "/admin/v1/users/{user_id}/password", tag = "users", params(("user_id" = String, Path)), request_body = NewPassword,
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn set_password(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewPassword>,
) -> Result<StatusCode, Problem> {
    let found = find(&app, &id).await?;
    let hashed = hash(new.password).await?;
    app.store.set_password_hash(&found.id, &hashed).await?;
    let ended = app.store.delete_user_sessions(&found.id, None).await?;
    app.audit
        .record(
            AuditEvent::new(AuditKind::PasswordChanged, app.now(), &operator.actor())
                .subject(&found.id)
                .with("sessions_ended", ended),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The clients a user approved.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}/grants", tag = "grants", params(("user_id" = String, Path), PageQuery),
    responses((status = 200, body = Page<GrantInfo>), (status = 404, body = Problem)))]
pub(crate) async fn list_user_grants(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<GrantInfo>>, Problem> {
    let found = find(&app, &id).await?;
    let grants = grants::list_grants(&app, &found.id, app.now()).await?;
    let infos = grants
        .into_iter()
        .map(|g| GrantInfo {
            client_id: g.client_id.to_string(),
            client_name: g.client_name,
            scope: g
                .scopes
                .iter()
                .map(|s| s.scope.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            first_granted: g.first_granted.as_secs(),
            last_used: g.last_used.map(|t| t.as_secs()),
            offline_access: g.offline_access,
        })
        .collect();
    Ok(Json(paginate(infos, |g: &GrantInfo| g.client_id.clone(), &page)?))
}

/// Withdraw a user's consent for a client and revoke every token of it.
#[utoipa::path(delete, path = "/admin/v1/users/{user_id}/grants/{client_id}", tag = "grants",
    params(("user_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_user_grant(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path((user_id, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let found = find(&app, &user_id).await?;
    let client = ClientId::new(client_id);
    if app.store.find_consent(&found.id, &client).await?.is_none() {
        return Err(Problem::not_found("grant"));
    }
    let now = app.now();
    app.store.revoke_consent(&found.id, &client, now).await?;
    grants::revoke_all_of(&app, Some(&found.id), Some(&client), &operator.actor(), now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke every grant of a user, with all their tokens (consents stay).
#[utoipa::path(post, path = "/admin/v1/users/{user_id}/revoke-tokens", tag = "grants", params(("user_id" = String, Path)),
    responses((status = 200, body = Revoked), (status = 404, body = Problem)))]
pub(crate) async fn revoke_user_tokens(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, Problem> {
    let found = find(&app, &id).await?;
    let revoked = grants::revoke_all_of(&app, Some(&found.id), None, &operator.actor(), app.now()).await?;
    Ok(Revoked::new(revoked))
}

/// Changes to a user's profile; absent fields keep their value, `null` clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileChanges {
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Change a user's e-mail address or display name.
#[utoipa::path(patch, path = "/admin/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)), request_body = ProfileChanges,
    responses((status = 200, body = UserInfo), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn update_user(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    JsonBody(changes): JsonBody<ProfileChanges>,
) -> Result<Json<UserInfo>, Problem> {
    let mut found = find(&app, &id).await?;
    if let Some(email) = changes.email {
        found.email = email;
    }
    if let Some(name) = changes.name {
        found.name = name;
    }
    user::validate_profile(found.email.as_deref(), found.name.as_deref())
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    if !app
        .store
        .update_profile(&found.id, found.email.as_deref(), found.name.as_deref())
        .await?
    {
        return Err(Problem::not_found("user"));
    }
    app.audit
        .record(AuditEvent::new(AuditKind::UserUpdated, app.now(), &operator.actor()).subject(&found.id))
        .await;
    Ok(Json(UserInfo::from(&found)))
}

/// A user's second factors, as an operator sees them (never a secret or a key).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecondFactors {
    /// An authenticator app (TOTP) is enrolled.
    totp: bool,
    /// Unused recovery codes left.
    recovery_codes_left: u64,
    /// Registered passkeys, oldest first.
    passkeys: Vec<PasskeyInfo>,
}

/// One passkey.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PasskeyInfo {
    /// The WebAuthn credential id, base64url.
    credential_id: String,
    /// What the user called it.
    name: String,
    /// COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256.
    algorithm: i64,
    /// Whether it may be synced between devices.
    synced: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// A user's second factors: authenticator app, recovery codes left, passkeys.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}/mfa", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = SecondFactors), (status = 404, body = Problem)))]
pub(crate) async fn show_user_mfa(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SecondFactors>, Problem> {
    let found = find(&app, &id).await?;
    let totp = latchkey_core::mfa::has_totp(&app, &found.id).await?;
    let recovery_codes_left = if totp {
        app.store
            .recovery_codes_left(&found.id)
            .await
            .map_err(latchkey_core::OAuthError::from)?
    } else {
        0
    };
    let passkeys = app
        .store
        .list_passkeys(&found.id)
        .await
        .map_err(latchkey_core::OAuthError::from)?
        .into_iter()
        .map(|k| PasskeyInfo {
            credential_id: latchkey_core::secret::b64(&k.credential_id),
            name: k.name,
            algorithm: k.algorithm,
            synced: k.backup_eligible,
            created_at: k.created_at.as_secs(),
            last_used_at: k.last_used_at.map(latchkey_core::Timestamp::as_secs),
        })
        .collect();
    Ok(Json(SecondFactors {
        totp,
        recovery_codes_left,
        passkeys,
    }))
}

/// Remove a user's second factors (authenticator app, recovery codes and passkeys), for a
/// user who lost them; they sign in with the password alone until they enrol again.
#[utoipa::path(delete, path = "/admin/v1/users/{user_id}/mfa", tag = "users", params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn remove_user_mfa(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let found = find(&app, &id).await?;
    if latchkey_core::mfa::reset(&app, &found.id, &operator.actor(), app.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("second factor"))
    }
}
