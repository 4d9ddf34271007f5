//! Opening what every command needs: the database and the master key.

use latchkey_core::audit::{Actor, AuditEvent, AuditKind};
use latchkey_core::clock::{Clock as _, SystemClock};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use latchkey_core::secret::{MasterKey, SecretHasher};
use latchkey_core::store::Store;

use crate::config::Settings;
use crate::master_key::{self, MasterKeySource};

/// An open database with its master key.
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The key-encryption key.
    pub master: MasterKey,
    /// The master key is a file next to the database (generated or found there).
    pub master_key_beside_database: bool,
}

impl Opened {
    /// Records an event of the command line in the audit trail, written at once (a
    /// command exits right after).
    pub async fn audit(
        &self,
        kind: AuditKind,
        build: impl FnOnce(AuditEvent) -> AuditEvent,
    ) -> anyhow::Result<()> {
        let event = build(AuditEvent::new(kind, SystemClock.now(), &Actor::Cli));
        tracing::info!(target: "latchkey::audit", kind = kind.as_str(), actor = "cli", "audit");
        self.store.insert_audit_events(&[event]).await?;
        Ok(())
    }

    /// The secret hasher for this master key.
    pub fn hasher(&self) -> SecretHasher {
        SecretHasher::new(&self.master)
    }
}

/// Connects (creating and migrating the database if needed) and finds the master key.
pub async fn open(settings: &Settings) -> anyhow::Result<Opened> {
    let (master, source) = master_key::load(&settings.database_url)?;
    let store = match latchkey_store::connect(&settings.database_url).await {
        Ok(store) => store,
        Err(error) => {
            master_key::discard_generated(&source);
            return Err(error).context("LATCHKEY_DATABASE_URL");
        }
    };
    if let MasterKeySource::Generated(path) = &source {
        if !store.list_keys().await?.is_empty() {
            master_key::discard_generated(&source);
            bail!(
                "the database already has signing keys but its master key file {} is missing; restore it or set LATCHKEY_MASTER_KEY",
                path.display()
            );
        }
        tracing::warn!(
            path = %path.display(),
            "generated a new master key file (mode 0600); back it up, and set LATCHKEY_MASTER_KEY in production"
        );
    }
    if let MasterKeySource::Ephemeral = source {
        tracing::warn!("in-memory database: using a throwaway master key");
    }
    let master_key_beside_database =
        matches!(source, MasterKeySource::File(_) | MasterKeySource::Generated(_));
    Ok(Opened {
        store,
        master,
        master_key_beside_database,
    })
}
