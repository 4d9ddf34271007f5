//! Latchkey's HTTP surface: the router, thin handlers, request extractors and the one place
//! where errors become responses.
//!
//! Every handler extracts, calls one service function of `latchkey-core` and wraps the
//! result; protocol decisions live in core.

mod admin;
mod error;
mod extract;
mod maintenance;
mod metrics;
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

/// Where the metrics are served, on the admin surface with the admin API.
pub const METRICS_PATH: &str = "/metrics";
pub use admin::{
    PREFIX as ADMIN_API_PREFIX, READ_SCOPE as ADMIN_READ_SCOPE, WRITE_SCOPE as ADMIN_WRITE_SCOPE,
};

/// The application: every route, the admin surface included, with its middleware.
pub fn router(state: AppState) -> Router {
    finish(public_routes().merge(admin_routes(&state)), state)
}

/// The public application alone: OAuth endpoints, pages and probes, for when the admin
/// surface has a listener of its own.
pub fn public_router(state: AppState) -> Router {
    finish(public_routes(), state)
}

/// The admin surface alone (`/metrics` and the admin API), for a listener that only
/// operators reach.
pub fn admin_router(state: AppState) -> Router {
    finish(admin_routes(&state), state)
}

fn admin_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(METRICS_PATH, get(routes::metrics::show_metrics))
        .merge(admin::routes(state))
}

/// The fallbacks and middleware every router gets. Requests are counted outermost, so the
/// count sees the final status (413s and 404s included).
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    // Install the recorder before the first request records into it.
    metrics::handle();
    routes
        .fallback(routes::fallback::not_found)
        .method_not_allowed_fallback(routes::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(middleware::security_headers))
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .with_state(state)
}

fn public_routes() -> Router<AppState> {
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
        .route("/account/mfa/setup", post(routes::account::setup_mfa))
        .route("/account/mfa/confirm", post(routes::account::confirm_mfa))
        .route("/account/mfa/remove", post(routes::account::remove_mfa))
        .route("/login/upstream/{id}", get(routes::upstream::start_sign_in))
        .route("/login/upstream/{id}/callback", get(routes::upstream::callback))
        .route("/account/upstream/{id}/link", post(routes::upstream::start_link))
        .route("/account/upstream/unlink", post(routes::upstream::unlink))
        .route(
            "/login/mfa",
            get(routes::login::show_mfa).post(routes::login::submit_mfa),
        )
        .route("/grants/revoke", post(routes::account::revoke_grant))
        .route("/assets/latchkey.css", get(routes::assets::stylesheet))
        .route("/assets/passkey.js", get(routes::assets::passkey_script))
        .route("/account/passkeys/new", post(routes::passkeys::new_passkey))
        .route("/account/passkeys/add", post(routes::passkeys::add_passkey))
        .route("/account/passkeys/remove", post(routes::passkeys::remove_passkey))
        .route("/login/passkey", post(routes::passkeys::sign_in))
        .route("/login/mfa/passkey", post(routes::passkeys::second_step))
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
}

/// The sockets a server answers on.
#[derive(Debug)]
pub struct Listeners {
    /// OAuth endpoints, pages and probes (and the admin surface when `admin` is `None`).
    pub public: TcpListener,
    /// A listener of its own for the admin surface (`/metrics`), which the public one then
    /// answers 404 for.
    pub admin: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(public: TcpListener) -> Self {
        Self { public, admin: None }
    }
}

/// Serves the application until `shutdown` resolves, then drains in-flight requests.
/// Background maintenance (revocation sync, key refresh, purges, metric samples) runs
/// alongside, and audit events are counted in the metrics.
pub async fn serve(
    listeners: impl Into<Listeners>,
    context: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Listeners { public, admin } = listeners.into();
    context.audit.observe(Arc::new(metrics::AuditMetrics));
    let maintenance = tokio::spawn(maintenance::run(Arc::clone(&context)));
    let state = AppState::new(context);
    let result = match admin {
        None => serve_on(public, router(state), shutdown).await,
        Some(admin) => {
            // One shutdown signal for two servers: dropping the sender wakes both.
            let (stop, stopped) = tokio::sync::watch::channel(());
            let signal = tokio::spawn(async move {
                shutdown.await;
                drop(stop);
            });
            let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
                while stopped.changed().await.is_ok() {}
            };
            let result = tokio::try_join!(
                serve_on(
                    public,
                    public_router(state.clone()),
                    until_stopped(stopped.clone())
                ),
                serve_on(admin, admin_router(state), until_stopped(stopped)),
            );
            signal.abort();
            result.map(|_| ())
        }
    };
    maintenance.abort();
    result
}

async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::trace!(%error, "cannot set TCP_NODELAY");
        }
    });
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
