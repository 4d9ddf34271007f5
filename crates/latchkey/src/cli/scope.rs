//! `latchkey scope ...`.

use clap::Subcommand;
use latchkey_core::scope::Scope;

use crate::app;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum ScopeCommand {
    /// Create a scope, or change its description (shown on consent pages).
    Create {
        /// The scope, e.g. notes:read.
        name: String,
        /// What the scope lets an application do, in words for the user.
        #[arg(long)]
        description: String,
        /// Grant it only to users who hold it through a role (`latchkey role`).
        #[arg(long)]
        restricted: bool,
    },
    /// List scopes and their descriptions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl ScopeCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let opened = app::open(settings).await?;
        match self {
            Self::Create {
                name,
                description,
                restricted,
            } => {
                let scope = Scope::parse(&name)?;
                let description = description.trim();
                if description.is_empty() || description.chars().any(char::is_control) {
                    anyhow::bail!("the description must be non-empty text without control characters");
                }
                opened.store.describe_scope(&scope, description).await?;
                opened.store.set_scope_restricted(&scope, restricted).await?;
                let note = if restricted {
                    " (restricted to role holders)"
                } else {
                    ""
                };
                println!("scope {scope}: {description}{note}");
            }
            Self::List { json } => {
                let scopes = opened.store.list_scopes().await?;
                if json {
                    let list: Vec<_> = scopes
                        .iter()
                        .map(|s| serde_json::json!({"scope": s.scope.as_str(), "description": s.description}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for s in scopes {
                        println!("{:<32} {}", s.scope, s.description);
                    }
                }
            }
        }
        Ok(())
    }
}
