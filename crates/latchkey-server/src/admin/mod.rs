//! The admin API (`/admin/v1`): clients, users, scopes, grants, keys and the audit trail,
//! as JSON, for operators.
//!
//! It is protected by Latchkey's own access tokens, verified with the resource-server
//! library (`latchkey-resource`) the way any API would: an operator client gets a token
//! by the client-credentials grant with `admin:read` (for `GET`) or `admin:write` (for
//! everything else; it also allows reading). Errors are RFC 9457 problem details. Lists
//! are paginated with `limit` and an opaque `after` cursor. The OpenAPI 3.1 document at
//! `/admin/v1/openapi.json` is generated from these handlers' annotations.

mod audit;
mod clients;
mod doctor;
mod grants;
mod keys;
mod providers;
mod roles;
mod scopes;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use latchkey_core::Context;
use latchkey_core::audit::Actor;
use latchkey_core::id::ClientId;
use latchkey_resource::{JwksProvider, LatchkeyAuth};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::state::AppState;

/// Where the admin API lives.
pub const PREFIX: &str = "/admin/v1";
/// The scope that lets an operator read.
pub const READ_SCOPE: &str = "admin:read";
/// The scope that lets an operator change things (and read).
pub const WRITE_SCOPE: &str = "admin:write";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey admin API",
        description = "Operators manage clients, users, roles, scopes, grants, signing keys and read the audit trail. Every call needs a Bearer access token from the client-credentials grant: admin:read for GET, admin:write for the rest.",
        version = "1"
    ),
    paths(
        clients::list_clients,
        clients::create_client,
        clients::get_client,
        clients::update_client,
        clients::delete_client,
        clients::rotate_secret,
        clients::revoke_client_tokens,
        users::list_users,
        users::create_user,
        users::get_user,
        users::update_user,
        users::delete_user,
        users::set_password,
        users::list_user_grants,
        users::revoke_user_grant,
        users::revoke_user_tokens,
        users::show_user_mfa,
        users::remove_user_mfa,
        scopes::list_scopes,
        scopes::put_scope,
        scopes::delete_scope,
        providers::list_providers,
        providers::put_provider,
        providers::delete_provider,
        roles::list_roles,
        roles::put_role,
        roles::delete_role,
        roles::list_user_roles,
        roles::grant_user_role,
        roles::revoke_user_role,
        grants::revoke_grant,
        keys::list_keys,
        keys::get_key,
        keys::rotate_keys,
        audit::list_audit,
        doctor::show_report,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (RFC 9068)")
                    .build(),
            ),
        );
    }
}

/// The admin routes, under [`PREFIX`], each behind the token check.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let api = Router::new()
        .route(
            "/clients",
            get(clients::list_clients).post(clients::create_client),
        )
        .route(
            "/clients/{client_id}",
            get(clients::get_client)
                .patch(clients::update_client)
                .delete(clients::delete_client),
        )
        .route("/clients/{client_id}/secret", post(clients::rotate_secret))
        .route(
            "/clients/{client_id}/revoke-tokens",
            post(clients::revoke_client_tokens),
        )
        .route("/users", get(users::list_users).post(users::create_user))
        .route(
            "/users/{user_id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route("/users/{user_id}/password", put(users::set_password))
        .route("/users/{user_id}/grants", get(users::list_user_grants))
        .route(
            "/users/{user_id}/grants/{client_id}",
            delete(users::revoke_user_grant),
        )
        .route("/users/{user_id}/revoke-tokens", post(users::revoke_user_tokens))
        .route("/providers", get(providers::list_providers))
        .route(
            "/providers/{id}",
            put(providers::put_provider).delete(providers::delete_provider),
        )
        .route("/roles", get(roles::list_roles))
        .route("/roles/{name}", put(roles::put_role).delete(roles::delete_role))
        .route("/users/{user_id}/roles", get(roles::list_user_roles))
        .route(
            "/users/{user_id}/mfa",
            get(users::show_user_mfa).delete(users::remove_user_mfa),
        )
        .route(
            "/users/{user_id}/roles/{name}",
            put(roles::grant_user_role).delete(roles::revoke_user_role),
        )
        .route("/scopes", get(scopes::list_scopes))
        .route(
            "/scopes/{scope}",
            put(scopes::put_scope).delete(scopes::delete_scope),
        )
        .route("/grants/{grant_id}/revoke", post(grants::revoke_grant))
        .route("/keys", get(keys::list_keys))
        .route("/keys/{kid}", get(keys::get_key))
        .route("/keys/rotate", post(keys::rotate_keys))
        .route("/audit", get(audit::list_audit))
        .route("/doctor", get(doctor::show_report))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_operator,
        ))
        .route("/openapi.json", get(openapi_document))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "No such admin API resource.") });
    Router::new().nest(PREFIX, api)
}

/// `GET /admin/v1/openapi.json`: the document describing this API (public, like any
/// API description; it holds no data).
async fn openapi_document() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

/// The keys an admin token is verified with: this node's own JWKS, handed over in process.
struct RingKeys(Arc<Context>);

impl JwksProvider for RingKeys {
    fn jwks(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&self.0.keys.jwks(self.0.now())).map_err(|e| e.to_string())
    }
}

/// The verifier of operator tokens: the resource-server library, on this node's keys, for
/// access tokens whose audience is the issuer's default one.
pub(crate) fn operator_auth(context: &Arc<Context>) -> Option<LatchkeyAuth> {
    let built = LatchkeyAuth::builder(&context.config.issuer, &context.config.default_audience)
        .realm("latchkey-admin")
        .local_keys(Arc::new(RingKeys(Arc::clone(context))));
    match built {
        Ok(auth) => Some(auth),
        Err(error) => {
            tracing::error!(%error, "the admin API cannot verify tokens; it will answer 503");
            None
        }
    }
}

/// The operator client behind a request, for the audit trail.
#[derive(Debug, Clone)]
pub(crate) struct Operator(pub(crate) ClientId);

impl Operator {
    pub(crate) fn actor(&self) -> Actor {
        Actor::Client(self.0.clone())
    }
}

/// Lets a request through with a valid, unrevoked token granted the scope its method
/// needs; answers RFC 6750's status and challenge with a problem-details body otherwise.
async fn require_operator(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(auth) = app.admin_auth() else {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The admin API cannot verify tokens.",
        )
        .into_response();
    };
    let verified = match auth.authenticate(request.headers(), request.uri()).await {
        Ok(verified) => verified,
        Err(error) => return auth_problem(error),
    };
    let needed =
        if matches!(*request.method(), Method::GET | Method::HEAD) && !verified.has_scope(WRITE_SCOPE) {
            READ_SCOPE
        } else {
            WRITE_SCOPE
        };
    if let Err(error) = auth.check_scope(&verified, needed) {
        return auth_problem(error);
    }
    // The library verifies signatures and claims; revocation is this node's knowledge.
    if verified
        .jti
        .as_deref()
        .is_none_or(|jti| app.is_access_token_revoked(jti, None))
    {
        return Problem::new(StatusCode::UNAUTHORIZED, "The access token has been revoked.")
            .with_challenge(r#"Bearer realm="latchkey-admin", error="invalid_token""#)
            .into_response();
    }
    request
        .extensions_mut()
        .insert(Operator(ClientId::new(verified.client_id.clone())));
    next.run(request).await
}

fn auth_problem(error: latchkey_resource::AuthError) -> Response {
    let status = error.status();
    let detail = match error.failure() {
        latchkey_resource::AuthFailure::MissingToken => {
            "An access token is required (Authorization: Bearer).".to_owned()
        }
        latchkey_resource::AuthFailure::InvalidRequest(why) => (*why).to_owned(),
        latchkey_resource::AuthFailure::InvalidToken(why) => why.to_string(),
        latchkey_resource::AuthFailure::InsufficientScope(scope) => {
            format!("The access token lacks the {scope} scope.")
        }
        _ => "The request was refused.".to_owned(),
    };
    let challenge = error.into_response().headers().get(WWW_AUTHENTICATE).cloned();
    let mut response = Problem::new(status, detail).into_response();
    if let Some(challenge) = challenge {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// An RFC 9457 problem: `application/problem+json` with `type`, `title`, `status`, `detail`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a person.
    detail: String,
    #[serde(skip)]
    #[schema(ignore)]
    challenge: Option<&'static str>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            challenge: None,
        }
    }

    fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// A 500 whose cause is logged, not shown.
    pub(crate) fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "admin API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server.",
        )
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("No such {what}."))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

impl From<latchkey_core::OAuthError> for Problem {
    fn from(error: latchkey_core::OAuthError) -> Self {
        match error {
            latchkey_core::OAuthError::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            ),
            other => Self::internal(&other),
        }
    }
}

impl From<latchkey_core::StoreError> for Problem {
    fn from(error: latchkey_core::StoreError) -> Self {
        Self::from(latchkey_core::OAuthError::from(error))
    }
}

/// `?limit=&after=`: a page of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// At most this many items (1 to 500, default 100).
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

impl PageQuery {
    pub(crate) fn limit(&self) -> Result<usize, Problem> {
        match self.limit.unwrap_or(100) {
            limit @ 1..=500 => Ok(limit as usize),
            _ => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "limit must be between 1 and 500.",
            )),
        }
    }
}

/// One page of a list: the items and the cursor of the next page, if there is one.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T> {
    /// The items, in a stable order.
    items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Pages `items`, sorted by `key`, after the cursor (the last key of the previous page).
pub(crate) fn paginate<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    query: &PageQuery,
) -> Result<Page<T>, Problem> {
    let limit = query.limit()?;
    items.sort_by_key(|item| key(item));
    if let Some(after) = &query.after {
        items.retain(|item| key(item).as_str() > after.as_str());
    }
    let next = (items.len() > limit)
        .then(|| items.get(limit - 1).map(&key))
        .flatten();
    items.truncate(limit);
    Ok(Page { items, next })
}

/// A JSON body, or a 400 problem saying why it could not be read.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(Problem::new(rejection.status(), rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor() {
        let query = |limit, after: Option<&str>| PageQuery {
            limit: Some(limit),
            after: after.map(str::to_owned),
        };
        let items = vec!["c", "a", "d", "b", "e"];
        let first =
            paginate(items.clone(), |s| (*s).to_owned(), &query(2, None)).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            (first.items.as_slice(), first.next.as_deref()),
            (&["a", "b"][..], Some("b"))
        );
        let second = paginate(items.clone(), |s| (*s).to_owned(), &query(2, Some("b")))
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(
            (second.items.as_slice(), second.next.as_deref()),
            (&["c", "d"][..], Some("d"))
        );
        let last =
            paginate(items, |s| (*s).to_owned(), &query(2, Some("d"))).unwrap_or_else(|_| unreachable!());
        assert_eq!((last.items.as_slice(), last.next.as_deref()), (&["e"][..], None));
        assert!(paginate(vec!["a"], |s| (*s).to_owned(), &query(0, None)).is_err());
    }
}
