//! `latchkey provider ...`: upstream OpenID Connect providers users may sign in through.

use anyhow::bail;
use clap::Subcommand;
use latchkey_core::clock::{Clock as _, SystemClock};
use latchkey_core::federation::{UpstreamProvider, seal_client_secret};
use latchkey_core::mfa::SecretSealer;

use crate::app;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum ProviderCommand {
    /// Add an upstream provider, or replace one; the client secret is read from standard input.
    Add {
        /// Its id in URLs: lowercase letters, digits and dashes (e.g. corp).
        id: String,
        /// The name on the "Continue with" button.
        #[arg(long)]
        name: String,
        /// Its issuer identifier (discovery at ISSUER/.well-known/openid-configuration).
        #[arg(long)]
        issuer: String,
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
                name,
                issuer,
                client_id,
                scopes,
                ..
            } => {
                if id.is_empty()
                    || id.len() > 32
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    bail!("a provider id is 1 to 32 of a-z, 0-9 and '-'");
                }
                let parsed =
                    url::Url::parse(&issuer).map_err(|_| anyhow::anyhow!("--issuer must be a URL"))?;
                if !matches!(parsed.scheme(), "https" | "http") || issuer.ends_with('/') {
                    bail!(
                        "--issuer must be an http(s) URL without a trailing slash, exactly as the provider names itself"
                    );
                }
                let name = name.trim().to_owned();
                if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                    bail!("--name must be 1 to 64 characters");
                }
                let mut secret = String::new();
                std::io::stdin().read_line(&mut secret)?;
                let secret = secret.trim_end_matches(['\r', '\n']).to_owned();
                if secret.is_empty() {
                    bail!("the client secret on standard input is empty");
                }
                let mut scopes = if scopes.is_empty() {
                    vec!["openid".into(), "email".into(), "profile".into()]
                } else {
                    scopes
                };
                if !scopes.iter().any(|s| s == "openid") {
                    scopes.insert(0, "openid".into());
                }
                let opened = app::open(settings).await?;
                let provider = UpstreamProvider {
                    sealed_secret: seal_client_secret(&SecretSealer::new(&opened.master), &id, &secret),
                    id,
                    name,
                    issuer,
                    client_id,
                    scopes: scopes.join(" "),
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
