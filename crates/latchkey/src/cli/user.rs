//! `latchkey user ...`: resource owners. Passwords come from standard input (never a flag,
//! which would land in shell history and `ps`), are hashed with argon2id, never printed.

use latchkey_core::audit::AuditKind;
use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use latchkey_core::id::UserId;
use latchkey_core::login::run_hashing;
use latchkey_core::user::{self, User};
use latchkey_core::{Clock as _, SystemClock};
use serde_json::json;

use crate::app;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// Login name (unique, ignoring case).
        #[arg(long)]
        username: String,
        /// Read the password from standard input (one trailing newline is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// E-mail address (released with the email scope).
        #[arg(long)]
        email: Option<String>,
        /// Display name (released with the profile scope).
        #[arg(long)]
        name: Option<String>,
        /// Print JSON; `sub` is the user's stable id.
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user, with their sessions, consents and grants.
    Delete {
        /// Username (or user id).
        user: String,
    },
    /// Give a user a role (its permissions become grantable to them).
    GrantRole {
        /// Username (or user id).
        user: String,
        /// The role's name.
        role: String,
    },
    /// Take a role from a user (their next refresh no longer carries its restricted scopes).
    RevokeRole {
        /// Username (or user id).
        user: String,
        /// The role's name.
        role: String,
    },
    /// Set a user's password, read from standard input.
    SetPassword {
        /// Username (or user id).
        user: String,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from standard input")?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_owned();
    user::validate_password(&password)?;
    Ok(password)
}

async fn hash(password: String) -> anyhow::Result<String> {
    run_hashing(move || user::hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

fn user_json(user: &User) -> serde_json::Value {
    json!({
        "sub": user.id.as_str(),
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "created_at": user.created_at.as_secs(),
    })
}

impl UserCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        match self {
            Self::Create {
                username,
                email,
                name,
                json,
                ..
            } => {
                user::validate_username(&username)?;
                user::validate_profile(email.as_deref(), name.as_deref())?;
                let password = read_password()?;
                let opened = app::open(settings).await?;
                let created = User {
                    id: UserId::generate(),
                    username,
                    email,
                    name,
                    created_at: SystemClock.now(),
                };
                let hashed = hash(password).await?;
                match opened.store.insert_user(&created, &hashed).await {
                    Err(latchkey_core::StoreError::Conflict(_)) => {
                        bail!("the username {} is taken", created.username)
                    }
                    other => other?,
                }
                opened
                    .audit(AuditKind::UserCreated, |e| e.subject(&created.id))
                    .await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&user_json(&created))?);
                } else {
                    println!("created user {} (sub {})", created.username, created.id);
                }
            }
            Self::List { json } => {
                let users = app::open(settings).await?.store.list_users().await?;
                if json {
                    let list: Vec<_> = users.iter().map(user_json).collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    println!("{:<32}  {:<24}  {:<28}  NAME", "SUB", "USERNAME", "EMAIL");
                    for u in users {
                        println!(
                            "{:<32}  {:<24}  {:<28}  {}",
                            u.id,
                            u.username,
                            u.email.as_deref().unwrap_or("-"),
                            u.name.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
            Self::Delete { user } => {
                let opened = app::open(settings).await?;
                let found = find(&opened, &user).await?;
                opened.store.delete_user(&found.id).await?;
                opened
                    .audit(AuditKind::UserDeleted, |e| e.subject(&found.id))
                    .await?;
                println!("deleted user {}", found.username);
            }
            Self::GrantRole { user, role } => {
                let opened = app::open(settings).await?;
                let found = find(&opened, &user).await?;
                if !opened.store.grant_role(&found.id, &role).await? {
                    bail!("no role {role}");
                }
                opened
                    .audit(AuditKind::RoleGranted, |e| {
                        e.subject(&found.id).with("role", role.clone())
                    })
                    .await?;
                println!("{} now holds role {role}", found.username);
            }
            Self::RevokeRole { user, role } => {
                let opened = app::open(settings).await?;
                let found = find(&opened, &user).await?;
                if !opened.store.revoke_role(&found.id, &role).await? {
                    bail!("{} does not hold role {role}", found.username);
                }
                opened
                    .audit(AuditKind::RoleRevoked, |e| {
                        e.subject(&found.id).with("role", role.clone())
                    })
                    .await?;
                println!("{} no longer holds role {role}", found.username);
            }
            Self::SetPassword { user, .. } => {
                let password = read_password()?;
                let opened = app::open(settings).await?;
                let found = find(&opened, &user).await?;
                let hashed = hash(password).await?;
                opened.store.set_password_hash(&found.id, &hashed).await?;
                opened
                    .audit(AuditKind::PasswordChanged, |e| e.subject(&found.id))
                    .await?;
                println!("password changed for {}", found.username);
            }
        }
        Ok(())
    }
}

async fn find(opened: &app::Opened, user: &str) -> anyhow::Result<User> {
    if let Some((found, _)) = opened.store.find_user_by_username(user).await? {
        return Ok(found);
    }
    match opened.store.find_user(&UserId::new(user)).await? {
        Some(found) => Ok(found),
        None => bail!("no user {user}"),
    }
}
