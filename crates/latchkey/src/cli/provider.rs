//! `latchkey provider ...`: upstream OpenID Connect providers users may sign in through.

use anyhow::bail;
use clap::Subcommand;
use latchkey_core::clock::{Clock as _, SystemClock};
use latchkey_core::federation::{UpstreamProvider, provider_scopes, seal_client_secret, validate_provider};
use latchkey_core::mfa::SecretSealer;

use crate::app;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum ProviderCommand {
    /// Add an upstream provider, or replace one; the client secret is read from standard input.
    Add {
        /// Its id in URLs: lowercase letters, digits and dashes (e.g. corp).
        id: String,
        /// A known provider: google, gitlab, microsoft (with --tenant) or github (plain
        /// OAuth 2.0); fills in the name, issuer and endpoints.
        #[arg(long)]
        preset: Option<String>,
        /// The Microsoft Entra tenant (directory) id, with --preset microsoft.
        #[arg(long)]
        tenant: Option<String>,
        /// The name on the "Continue with" button.
        #[arg(long, required_unless_present = "preset")]
        name: Option<String>,
        /// Its issuer identifier (discovery at ISSUER/.well-known/openid-configuration).
        #[arg(long, required_unless_present = "preset")]
        issuer: Option<String>,
        /// Our client id there; register ISSUER_OF_LATCHKEY/login/upstream/ID/callback as its redirect URI.
        #[arg(long)]
        client_id: String,
        /// Read our client secret there from standard input.
        #[arg(long, required = true)]
        client_secret_stdin: bool,
        /// A scope to ask for (repeat) [default: openid email profile].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// List providers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a provider (linked identities stay, and work again if it is added back).
    Delete {
        /// Its id.
        id: String,
    },
}

impl ProviderCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        match self {
            Self::Add {
                id,
                preset,
                tenant,
                name,
                issuer,
                client_id,
                scopes,
                ..
            } => {
                let (preset_name, preset_issuer) = match preset.as_deref() {
                    None => (None, None),
                    Some(known) => {
                        let (name, issuer) = latchkey_core::federation::preset(known, tenant.as_deref())
                            .map_err(anyhow::Error::msg)?;
                        (Some(name.to_owned()), Some(issuer))
                    }
                };
                let Some(name) = name.or(preset_name) else {
                    bail!("--name is required")
                };
                let Some(issuer) = issuer.or(preset_issuer) else {
                    bail!("--issuer is required")
                };
                let name = name.trim().to_owned();
                validate_provider(&id, &name, &issuer, &client_id).map_err(anyhow::Error::msg)?;
                let mut secret = String::new();
                std::io::stdin().read_line(&mut secret)?;
                let secret = secret.trim_end_matches(['\r', '\n']).to_owned();
                if secret.is_empty() {
                    bail!("the client secret on standard input is empty");
                }
                let oauth2 = preset
                    .as_deref()
                    .and_then(latchkey_core::federation::preset_oauth2);
                let scopes = match &oauth2 {
                    Some((_, default)) if scopes.is_empty() => (*default).to_owned(),
                    Some(_) => scopes.join(" "),
                    None => provider_scopes(&scopes),
                };
                let opened = app::open(settings).await?;
                let provider = UpstreamProvider {
                    sealed_secret: seal_client_secret(&SecretSealer::new(&opened.master), &id, &secret),
                    id,
                    name,
                    issuer,
                    client_id,
                    scopes,
                    oauth2: oauth2.map(|(plain, _)| plain),
                    created_at: SystemClock.now(),
                };
                opened.store.put_provider(&provider).await?;
                println!(
                    "provider {}: {} at {}",
                    provider.id, provider.name, provider.issuer
                );
            }
            Self::List { json } => {
                let opened = app::open(settings).await?;
                let providers = opened.store.list_providers().await?;
                if json {
                    let list: Vec<_> = providers
                        .iter()
                        .map(|p| serde_json::json!({"id": p.id, "name": p.name, "issuer": p.issuer, "client_id": p.client_id, "scopes": p.scopes}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for p in providers {
                        println!("{:<16} {:<24} {}", p.id, p.name, p.issuer);
                    }
                }
            }
            Self::Delete { id } => {
                let opened = app::open(settings).await?;
                if !opened.store.delete_provider(&id).await? {
                    bail!("no provider {id}");
                }
                println!("deleted provider {id}");
            }
        }
        Ok(())
    }
}
