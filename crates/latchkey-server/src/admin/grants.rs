//! `/admin/v1/grants`: revoking one grant (token family) by its id, as access tokens carry
//! it in `grant_id`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latchkey_core::grants;
use latchkey_core::id::FamilyId;

use super::{Operator, Problem};
use crate::state::AppState;

/// Revoke one grant and every token issued under it.
#[utoipa::path(post, path = "/admin/v1/grants/{grant_id}/revoke", tag = "grants", params(("grant_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_grant(
    State(app): State<AppState>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if grants::revoke_by_id(&app, &FamilyId::new(id), &operator.actor(), app.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("grant"))
    }
}
