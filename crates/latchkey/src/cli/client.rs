//! `latchkey client ...`: the client registry. Secrets are printed once, by `create` and
//! `rotate-secret`, and never by a listing.

use anyhow::bail;
use clap::{Args, Subcommand};
use latchkey_core::audit::AuditKind;
use latchkey_core::client::{Client, GrantType, RedirectUri};
use latchkey_core::id::ClientId;
use latchkey_core::registry::{self, ClientRegistration};
use latchkey_core::secret::ClientSecret;
use latchkey_core::{Clock as _, SystemClock};
use serde_json::{Value, json};

use crate::app;
use crate::config::Settings;

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Name shown to users on consent pages.
    #[arg(long)]
    name: String,
    /// Grant type it may use (repeat): authorization_code, refresh_token,
    /// client_credentials, implicit, urn:ietf:params:oauth:grant-type:device_code.
    #[arg(long = "grant-type", value_name = "TYPE")]
    grant_types: Vec<String>,
    /// Exact redirect URI (repeat).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A scope it may request (repeat); unknown scopes are created.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// client_secret_basic (default), client_secret_post, or none (public).
    #[arg(long, value_name = "METHOD")]
    auth_method: Option<String>,
    /// ID-token signing algorithm: RS256 (default) or ES256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// Print one JSON object with RFC 7591 field names.
    #[arg(long)]
    json: bool,
}

impl CreateArgs {
    async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let registration = ClientRegistration {
            name: self.name,
            grant_types: self.grant_types,
            redirect_uris: self.redirect_uris,
            scopes: self.scopes,
            public: self.public,
            auth_method: self.auth_method,
            id_token_alg: self.id_token_alg,
        };
        // Refuse nonsense before touching (or creating) the database.
        let meta = registration.validate()?;
        if meta.grant_types.contains(&GrantType::Implicit) {
            eprintln!(
                "warning: the implicit grant is legacy (RFC 9700 section 2.1.2): tokens travel in the URL fragment and cannot be sender-constrained; prefer authorization_code with PKCE"
            );
        }
        let opened = app::open(settings).await?;
        let (client, secret) = registry::register_client(
            opened.store.as_ref(),
            &opened.hasher(),
            &registration,
            SystemClock.now(),
        )
        .await?;
        opened
            .audit(AuditKind::ClientCreated, |e| {
                e.client(&client.id).with("client_name", client.name.as_str())
            })
            .await?;
        print_client(&client, secret.as_ref(), self.json)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client and print it (with its secret, shown only this once).
    Create(CreateArgs),
    /// List clients (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client_id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client.
    Delete {
        /// The client_id.
        id: String,
    },
    /// Replace a confidential client's secret and print the new one (shown only once).
    RotateSecret {
        /// The client_id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl ClientCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let command = match self {
            Self::Create(args) => return args.run(settings).await,
            other => other,
        };
        let opened = app::open(settings).await?;
        let store = opened.store.as_ref();
        match command {
            Self::Create(_) => {}
            Self::List { json } => {
                let clients = store.list_clients().await?;
                if json {
                    let list: Vec<Value> = clients
                        .iter()
                        .map(|c| registry::client_metadata(c, None))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else if clients.is_empty() {
                    println!("no clients registered");
                } else {
                    println!("{:<32}  {:<12}  {:<24}  GRANT TYPES", "CLIENT ID", "TYPE", "NAME");
                    for c in clients {
                        let kind = if c.is_public() { "public" } else { "confidential" };
                        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                        println!(
                            "{:<32}  {kind:<12}  {:<24}  {}",
                            c.id,
                            truncate(&c.name, 24),
                            grants.join(" ")
                        );
                    }
                }
            }
            Self::Show { id, json } => {
                let Some(client) = store.find_client(&ClientId::new(&id)).await? else {
                    bail!("no client with id {id}");
                };
                print_client(&client, None, json)?;
            }
            Self::Delete { id } => {
                if !store.delete_client(&ClientId::new(&id)).await? {
                    bail!("no client with id {id}");
                }
                opened
                    .audit(AuditKind::ClientDeleted, |e| e.client(&ClientId::new(&id)))
                    .await?;
                println!("deleted client {id}");
            }
            Self::RotateSecret { id, json } => {
                let secret =
                    registry::rotate_client_secret(store, &opened.hasher(), &ClientId::new(&id)).await?;
                opened
                    .audit(AuditKind::ClientSecretRotated, |e| e.client(&ClientId::new(&id)))
                    .await?;
                if json {
                    println!("{}", json!({"client_id": id, "client_secret": secret.expose()}));
                } else {
                    println!("new secret for client {id} (shown only once; the old one stops working):");
                    println!("{}", secret.expose());
                }
            }
        }
        Ok(())
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn print_client(client: &Client, secret: Option<&ClientSecret>, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&registry::client_metadata(client, secret))?
        );
        return Ok(());
    }
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(" ")
        }
    };
    println!("client_id:      {}", client.id);
    if let Some(secret) = secret {
        println!("client_secret:  {}", secret.expose());
        println!("                (shown only once: store it now)");
    }
    println!("name:           {}", client.name);
    println!(
        "type:           {}",
        if client.is_public() {
            "public"
        } else {
            "confidential"
        }
    );
    println!("auth method:    {}", client.auth_method);
    println!(
        "grant types:    {}",
        list(client.grant_types.iter().map(|g| g.as_str()).collect())
    );
    println!(
        "redirect URIs:  {}",
        list(client.redirect_uris.iter().map(RedirectUri::as_str).collect())
    );
    println!(
        "scopes:         {}",
        list(client.scopes.iter().map(|s| s.as_str()).collect())
    );
    println!("created:        {}", client.created_at.to_rfc3339());
    Ok(())
}
