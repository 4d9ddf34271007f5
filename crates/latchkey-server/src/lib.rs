//! Latchkey's HTTP surface: the router, thin handlers, request extractors and the one place
//! where errors become responses.
//!
//! Every handler extracts, calls one service function of `latchkey-core` and wraps the
//! result; protocol decisions live in core.

mod error;
mod extract;
mod maintenance;
mod middleware;
mod pages;
mod routes;
mod state;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use latchkey_core::Context;
use latchkey_core::discovery::paths;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use state::AppState;

/// Request bodies larger than this are refused with 413 (INTERFACE.md).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The application: every route with its middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            paths::AUTHORIZE,
            get(routes::authorize::authorize_get).post(routes::authorize::authorize_post),
        )
        .route(
            paths::LOGIN,
            get(routes::login::show_login).post(routes::login::submit_login),
        )
        .route(paths::LOGOUT, post(routes::login::submit_logout))
        .route(
            paths::USERINFO,
            get(routes::userinfo::show_userinfo).post(routes::userinfo::show_userinfo),
        )
        .route("/", get(routes::account::show_account))
        .route("/account", get(routes::account::show_account))
        .route("/account/password", post(routes::account::change_password))
        .route("/account/sessions/end", post(routes::account::end_sessions))
        .route("/grants/revoke", post(routes::account::revoke_grant))
        .route("/assets/latchkey.css", get(routes::assets::stylesheet))
        .route(
            paths::DEVICE_AUTHORIZATION,
            post(routes::device::start_device_authorization),
        )
        .route(
            paths::DEVICE,
            get(routes::device::show_device).post(routes::device::submit_device_code),
        )
        .route("/device/confirm", post(routes::device::confirm_device))
        .route(paths::TOKEN, post(routes::token::issue_token))
        .route(paths::INTROSPECT, post(routes::introspect::introspect_token))
        .route(paths::REVOKE, post(routes::revoke::revoke_token))
        .route(paths::JWKS, get(routes::jwks::show_jwks))
        .route(paths::OAUTH_METADATA, get(routes::discovery::show_oauth_metadata))
        .route(
            paths::OPENID_CONFIGURATION,
            get(routes::discovery::show_openid_configuration),
        )
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .fallback(routes::fallback::not_found)
        .method_not_allowed_fallback(routes::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(middleware::security_headers))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves, then drains in-flight
/// requests. Background maintenance (revocation sync, key refresh, purges) runs alongside.
pub async fn serve(
    listener: TcpListener,
    context: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(maintenance::run(Arc::clone(&context)));
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::trace!(%error, "cannot set TCP_NODELAY");
        }
    });
    let app = router(AppState::new(context));
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    maintenance.abort();
    result
}
