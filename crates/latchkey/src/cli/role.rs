//! `latchkey role ...`: roles are named sets of permissions (scopes) given to users.

use anyhow::bail;
use clap::Subcommand;
use latchkey_core::roles::{Role, validate_name};
use latchkey_core::scope::{Scope, ScopeSet};

use crate::app;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum RoleCommand {
    /// Create a role, or replace its description and permissions.
    Create {
        /// The role's name, e.g. editor.
        name: String,
        /// A permission (scope) it gives (repeat); unknown scopes are created.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// What the role is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List roles and their permissions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a role (every user loses it).
    Delete {
        /// The role's name.
        name: String,
    },
}

/// A role as JSON.
pub(crate) fn role_json(role: &Role) -> serde_json::Value {
    serde_json::json!({
        "name": role.name,
        "description": role.description,
        "scopes": role.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
    })
}

impl RoleCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let opened = app::open(settings).await?;
        match self {
            Self::Create {
                name,
                scopes,
                description,
            } => {
                validate_name(&name)?;
                let description = description.trim().to_owned();
                if description.chars().any(char::is_control) || description.len() > 500 {
                    bail!("the description must be at most 500 characters without control characters");
                }
                let scopes: ScopeSet = scopes.iter().map(|s| Scope::parse(s)).collect::<Result<_, _>>()?;
                opened.store.ensure_scopes(&scopes).await?;
                let role = Role {
                    name,
                    description,
                    scopes,
                };
                let now = latchkey_core::clock::Clock::now(&latchkey_core::clock::SystemClock);
                opened.store.put_role(&role, now).await?;
                println!("role {}: {}", role.name, role.scopes);
            }
            Self::List { json } => {
                let roles = opened.store.list_roles().await?;
                if json {
                    let list: Vec<_> = roles.iter().map(role_json).collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for role in roles {
                        println!(
                            "{:<24} {:<40} {}",
                            role.name,
                            role.scopes.to_string(),
                            role.description
                        );
                    }
                }
            }
            Self::Delete { name } => {
                if !opened.store.delete_role(&name).await? {
                    bail!("no role {name}");
                }
                println!("deleted role {name}");
            }
        }
        Ok(())
    }
}
