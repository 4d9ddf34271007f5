//! The command line (clap): `serve`, `client ...`, `scope ...` and `key ...`.

mod audit;
mod client;
mod doctor;
mod key;
mod provider;
mod role;
mod scope;
mod serve;
mod user;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Settings, SettingsArgs};

/// Latchkey: an OAuth 2.0 and OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
pub struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies migrations and creates signing keys on first start).
    Serve,
    /// Manage registered clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage users (resource owners).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage scopes and their descriptions.
    #[command(subcommand)]
    Scope(scope::ScopeCommand),
    /// Manage roles: named sets of permissions (scopes) given to users.
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Manage upstream OpenID Connect providers users may sign in through.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Query the audit trail (newest first).
    Audit(audit::AuditArgs),
    /// Check the configuration and registry against OAuth's known pitfalls (exits 1 on a
    /// high-severity finding).
    Doctor(doctor::DoctorArgs),
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = Settings::resolve(&self.settings)?;
        init_logging(settings.log_format, matches!(self.command, Command::Serve));
        match self.command {
            Command::Serve => serve::run(&settings).await,
            Command::Client(command) => command.run(&settings).await,
            Command::Scope(command) => command.run(&settings).await,
            Command::Role(command) => command.run(&settings).await,
            Command::Provider(command) => command.run(&settings).await,
            Command::User(command) => command.run(&settings).await,
            Command::Key(command) => command.run(&settings).await,
            Command::Audit(args) => args.run(&settings).await,
            Command::Doctor(args) => args.run(&settings).await,
        }
    }
}

/// Logs go to stderr. `RUST_LOG` / `LATCHKEY_LOG` filter; the server logs at info, the
/// admin commands only warnings, so their output stays clean for scripts.
fn init_logging(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info,sqlx=warn" } else { "warn" };
    let filter = std::env::var("LATCHKEY_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
