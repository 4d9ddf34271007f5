//! `latchkey serve`.

use std::sync::Arc;

use anyhow::Context as _;
use latchkey_core::{Context, SystemClock};
use latchkey_server::Listeners;
use tokio::net::TcpListener;

use crate::app;
use crate::config::Settings;

/// Opens the database, starts the core context and serves until Ctrl-C or SIGTERM.
pub(crate) async fn run(settings: &Settings) -> anyhow::Result<()> {
    let listen = settings.listen_addr()?;
    let opened = app::open(settings).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("LATCHKEY_LISTEN: cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let admin = match settings.admin_listen_addr()? {
        Some(addr) => {
            let admin = TcpListener::bind(addr)
                .await
                .with_context(|| format!("LATCHKEY_ADMIN_LISTEN: cannot listen on {addr}"))?;
            tracing::info!(address = %admin.local_addr()?, "the admin API and metrics are served on the admin listener");
            Some(admin)
        }
        None => None,
    };
    // Providers from the settings file are stored (added or replaced) at every start.
    let sealer = latchkey_core::mfa::SecretSealer::new(&opened.master);
    for p in &settings.providers {
        let provider = latchkey_core::federation::UpstreamProvider {
            id: p.id.clone(),
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            sealed_secret: latchkey_core::federation::seal_client_secret(&sealer, &p.id, &p.client_secret),
            scopes: p.scopes.clone(),
            oauth2: p.oauth2.clone(),
            created_at: latchkey_core::Clock::now(&SystemClock),
        };
        opened.store.put_provider(&provider).await?;
    }
    let mut config = settings.auth_config(bound);
    config.deployment.master_key_beside_database = opened.master_key_beside_database;
    let issuer = config.issuer.clone();
    let context = Context::start(config, opened.store, Arc::new(SystemClock), &opened.master)
        .await
        .context("cannot load signing keys")?;
    tracing::info!(address = %bound, %issuer, "latchkey is listening");
    let listeners = Listeners {
        public: listener,
        admin,
    };
    latchkey_server::serve(listeners, Arc::new(context), shutdown_signal()).await?;
    tracing::info!("latchkey stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: draining in-flight requests");
}
