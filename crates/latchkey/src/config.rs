//! Settings: flags, then `LATCHKEY_*` environment variables (both through clap), then an
//! optional TOML file, then defaults. [`Settings::resolve`] runs once, validates, and leaves
//! no `Option` where a default exists. Errors name the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use latchkey_core::AuthConfig;
use serde::Deserialize;

/// Settings every command accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// TOML file with settings (flags and environment variables win over it).
    #[arg(long, env = "LATCHKEY_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LATCHKEY_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A second address that alone serves /metrics (the public one then answers 404 for it)
    /// [default: none, /metrics is on the listen address].
    #[arg(long, env = "LATCHKEY_ADMIN_LISTEN", global = true, value_name = "ADDR")]
    pub admin_listen: Option<String>,
    /// Issuer URL [default: http:// + the listen address].
    #[arg(long, env = "LATCHKEY_ISSUER", global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// Database URL [default: sqlite://latchkey.db].
    #[arg(long, env = "LATCHKEY_DATABASE_URL", global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Access-token audience when a request names none [default: the issuer].
    #[arg(long, env = "LATCHKEY_DEFAULT_AUDIENCE", global = true, value_name = "URI")]
    pub default_audience: Option<String>,
    /// The claim that carries a user's roles in tokens asked for with the `roles` scope [default: roles].
    #[arg(long, env = "LATCHKEY_ROLES_CLAIM", global = true, value_name = "NAME")]
    pub roles_claim: Option<String>,
    /// Access-token lifetime, e.g. 900, 15m, 1h [default: 15m].
    #[arg(
        long,
        env = "LATCHKEY_ACCESS_TOKEN_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub access_token_ttl: Option<String>,
    /// How long a rotated key is published before it signs [default: 1h].
    #[arg(long, env = "LATCHKEY_KEY_PREPUBLISH", global = true, value_name = "DURATION")]
    pub key_prepublish: Option<String>,
    /// JWKS cache lifetime sent to verifiers; must be shorter than the pre-publication [default: 5m].
    #[arg(long, env = "LATCHKEY_JWKS_MAX_AGE", global = true, value_name = "DURATION")]
    pub jwks_max_age: Option<String>,
    /// How stale a node's cached clients and revocations may be [default: 5s].
    #[arg(long, env = "LATCHKEY_CACHE_TTL", global = true, value_name = "DURATION")]
    pub cache_ttl: Option<String>,
    /// How often a node reloads signing keys [default: 30s].
    #[arg(long, env = "LATCHKEY_KEY_REFRESH", global = true, value_name = "DURATION")]
    pub key_refresh: Option<String>,
    /// Authorization-code lifetime [default: 60s].
    #[arg(long, env = "LATCHKEY_AUTH_CODE_TTL", global = true, value_name = "DURATION")]
    pub auth_code_ttl: Option<String>,
    /// ID-token lifetime [default: 1h].
    #[arg(long, env = "LATCHKEY_ID_TOKEN_TTL", global = true, value_name = "DURATION")]
    pub id_token_ttl: Option<String>,
    /// Absolute refresh-token lifetime [default: 30d].
    #[arg(
        long,
        env = "LATCHKEY_REFRESH_TOKEN_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub refresh_token_ttl: Option<String>,
    /// Refresh tokens unused this long expire [default: 7d].
    #[arg(
        long,
        env = "LATCHKEY_REFRESH_IDLE_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub refresh_idle_ttl: Option<String>,
    /// A rotated refresh token may be reused this long without revoking the grant [default: 5s].
    #[arg(long, env = "LATCHKEY_REFRESH_GRACE", global = true, value_name = "DURATION")]
    pub refresh_grace: Option<String>,
    /// Browser session lifetime [default: 12h].
    #[arg(long, env = "LATCHKEY_SESSION_TTL", global = true, value_name = "DURATION")]
    pub session_ttl: Option<String>,
    /// Device-code lifetime [default: 10m].
    #[arg(
        long,
        env = "LATCHKEY_DEVICE_CODE_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub device_code_ttl: Option<String>,
    /// Polling interval devices are told to keep [default: 5s].
    #[arg(
        long,
        env = "LATCHKEY_DEVICE_POLL_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub device_poll_interval: Option<String>,
    /// How long audit events are kept before they are pruned [default: 90d].
    #[arg(
        long,
        env = "LATCHKEY_AUDIT_RETENTION",
        global = true,
        value_name = "DURATION"
    )]
    pub audit_retention: Option<String>,
    /// Token requests per second per client on each node, bursts of twice that; 0 turns
    /// the limit off [default: 1000].
    #[arg(
        long,
        env = "LATCHKEY_TOKEN_RATE_LIMIT",
        global = true,
        value_name = "PER_SECOND"
    )]
    pub token_rate_limit: Option<u32>,
    /// Login attempts per minute per client address on each node; 0 turns the limit off
    /// [default: 30].
    #[arg(
        long,
        env = "LATCHKEY_LOGIN_RATE_LIMIT",
        global = true,
        value_name = "PER_MINUTE"
    )]
    pub login_rate_limit: Option<u32>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// The same settings as they may appear in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    admin_listen: Option<String>,
    issuer: Option<String>,
    database_url: Option<String>,
    default_audience: Option<String>,
    roles_claim: Option<String>,
    access_token_ttl: Option<DurationText>,
    key_prepublish: Option<DurationText>,
    jwks_max_age: Option<DurationText>,
    cache_ttl: Option<DurationText>,
    key_refresh: Option<DurationText>,
    auth_code_ttl: Option<DurationText>,
    id_token_ttl: Option<DurationText>,
    refresh_token_ttl: Option<DurationText>,
    refresh_idle_ttl: Option<DurationText>,
    refresh_grace: Option<DurationText>,
    session_ttl: Option<DurationText>,
    device_code_ttl: Option<DurationText>,
    device_poll_interval: Option<DurationText>,
    audit_retention: Option<DurationText>,
    token_rate_limit: Option<u32>,
    login_rate_limit: Option<u32>,
    log_format: Option<String>,
    #[serde(default)]
    providers: Vec<FileProvider>,
}

/// An upstream provider in the TOML file (`[[providers]]`); its client secret comes from
/// the environment variable `client_secret_env` names, never from the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    id: String,
    preset: Option<String>,
    tenant: Option<String>,
    name: Option<String>,
    issuer: Option<String>,
    client_id: String,
    client_secret_env: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// A plain OAuth 2.0 server's endpoints and user-info members.
    oauth2: Option<latchkey_core::federation::PlainOAuth>,
}

/// An upstream provider from the settings file, ready to store.
#[derive(Clone)]
pub struct ProviderSetting {
    /// Its id.
    pub id: String,
    /// Its button name.
    pub name: String,
    /// Its issuer.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there (from the environment).
    pub client_secret: String,
    /// The scopes to ask for.
    pub scopes: String,
    /// A plain OAuth 2.0 server's settings.
    pub oauth2: Option<latchkey_core::federation::PlainOAuth>,
}

impl std::fmt::Debug for ProviderSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSetting")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl FileProvider {
    fn resolve(self) -> anyhow::Result<ProviderSetting> {
        let context = || format!("LATCHKEY_CONFIG: [[providers]] {}", self.id);
        let (preset_name, preset_issuer) = match self.preset.as_deref() {
            Some(known) => {
                let (name, issuer) = latchkey_core::federation::preset(known, self.tenant.as_deref())
                    .map_err(anyhow::Error::msg)
                    .with_context(context)?;
                (Some(name.to_owned()), Some(issuer))
            }
            None => (None, None),
        };
        let name = self
            .name
            .clone()
            .or(preset_name)
            .with_context(|| format!("{}: name is missing", context()))?;
        let issuer = self
            .issuer
            .clone()
            .or(preset_issuer)
            .with_context(|| format!("{}: issuer is missing", context()))?;
        let name = name.trim().to_owned();
        latchkey_core::federation::validate_provider(&self.id, &name, &issuer, &self.client_id)
            .map_err(anyhow::Error::msg)
            .with_context(context)?;
        let client_secret = std::env::var(&self.client_secret_env)
            .ok()
            .filter(|s| !s.is_empty())
            .with_context(|| {
                format!(
                    "{}: the environment variable {} is not set",
                    context(),
                    self.client_secret_env
                )
            })?;
        let preset_oauth2 = self
            .preset
            .as_deref()
            .and_then(latchkey_core::federation::preset_oauth2);
        let (oauth2, scopes) = match (self.oauth2, preset_oauth2) {
            (Some(plain), _) => {
                plain
                    .validate()
                    .map_err(anyhow::Error::msg)
                    .with_context(context)?;
                (Some(plain), self.scopes.join(" "))
            }
            (None, Some((plain, default))) if self.scopes.is_empty() => (Some(plain), default.to_owned()),
            (None, Some((plain, _))) => (Some(plain), self.scopes.join(" ")),
            (None, None) => (None, latchkey_core::federation::provider_scopes(&self.scopes)),
        };
        Ok(ProviderSetting {
            scopes,
            oauth2,
            id: self.id,
            name,
            issuer,
            client_id: self.client_id,
            client_secret,
        })
    }
}

/// A duration in a file: seconds as a number, or text like "15m".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DurationText {
    Seconds(u64),
    Text(String),
}

impl DurationText {
    fn into_text(self) -> String {
        match self {
            Self::Seconds(secs) => secs.to_string(),
            Self::Text(text) => text,
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: String,
    /// Where the admin surface (`/metrics`) listens, or `None` for the listen address.
    pub admin_listen: Option<String>,
    /// The issuer, or `None` to derive it from the bound address.
    pub issuer: Option<String>,
    /// The database URL.
    pub database_url: String,
    /// The default audience, or `None` for the issuer.
    pub default_audience: Option<String>,
    /// The roles claim's name.
    pub roles_claim: String,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Pre-publication period of rotated keys.
    pub key_prepublish: Duration,
    /// JWKS `max-age`.
    pub jwks_max_age: Duration,
    /// Cache staleness bound.
    pub cache_ttl: Duration,
    /// Key reload interval.
    pub key_refresh: Duration,
    /// Authorization-code lifetime
    pub auth_code_ttl: Duration,
    /// ID-token lifetime
    pub id_token_ttl: Duration,
    /// Absolute refresh-token lifetime
    pub refresh_token_ttl: Duration,
    /// Refresh tokens unused this long expire
    pub refresh_idle_ttl: Duration,
    /// A rotated refresh token may be reused this long without revoking the grant
    pub refresh_grace: Duration,
    /// Browser session lifetime
    pub session_ttl: Duration,
    /// Device-code lifetime
    pub device_code_ttl: Duration,
    /// Polling interval devices are told to keep
    pub device_poll_interval: Duration,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Token requests per second per client per node (0: off).
    pub token_rate_limit: u32,
    /// Login attempts per minute per address per node (0: off).
    pub login_rate_limit: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// Upstream providers from the settings file (stored at `serve`).
    pub providers: Vec<ProviderSetting>,
}

/// The default database: an embedded SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://latchkey.db";

impl Settings {
    /// Merges flags and environment with the TOML file and defaults, and validates.
    pub fn resolve(args: &SettingsArgs) -> anyhow::Result<Self> {
        let mut file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let mut providers: Vec<ProviderSetting> = Vec::new();
        for provider in std::mem::take(&mut file.providers) {
            let resolved = provider.resolve()?;
            if providers.iter().any(|p| p.id == resolved.id) {
                bail!("LATCHKEY_CONFIG: [[providers]] {} appears twice", resolved.id);
            }
            providers.push(resolved);
        }
        let duration = |name: &str, flag: &Option<String>, from_file: Option<DurationText>, default: u64| {
            let text = flag.clone().or_else(|| from_file.map(DurationText::into_text));
            match text {
                Some(text) => {
                    parse_duration(&text).with_context(|| format!("{name}: invalid duration {text:?}"))
                }
                None => Ok(Duration::from_secs(default)),
            }
        };
        let log_format = match args.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("LATCHKEY_LOG_FORMAT: unknown format {other:?} (use text or json)"),
        };
        let settings = Self {
            listen: args
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            admin_listen: args.admin_listen.clone().or(file.admin_listen),
            issuer: args.issuer.clone().or(file.issuer),
            database_url: args
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            default_audience: args.default_audience.clone().or(file.default_audience),
            roles_claim: args
                .roles_claim
                .clone()
                .or(file.roles_claim)
                .unwrap_or_else(|| "roles".to_owned()),
            access_token_ttl: duration(
                "LATCHKEY_ACCESS_TOKEN_TTL",
                &args.access_token_ttl,
                file.access_token_ttl,
                900,
            )?,
            key_prepublish: duration(
                "LATCHKEY_KEY_PREPUBLISH",
                &args.key_prepublish,
                file.key_prepublish,
                3600,
            )?,
            jwks_max_age: duration(
                "LATCHKEY_JWKS_MAX_AGE",
                &args.jwks_max_age,
                file.jwks_max_age,
                300,
            )?,
            cache_ttl: duration("LATCHKEY_CACHE_TTL", &args.cache_ttl, file.cache_ttl, 5)?,
            key_refresh: duration("LATCHKEY_KEY_REFRESH", &args.key_refresh, file.key_refresh, 30)?,
            auth_code_ttl: duration(
                "LATCHKEY_AUTH_CODE_TTL",
                &args.auth_code_ttl,
                file.auth_code_ttl,
                60,
            )?,
            id_token_ttl: duration(
                "LATCHKEY_ID_TOKEN_TTL",
                &args.id_token_ttl,
                file.id_token_ttl,
                3600,
            )?,
            refresh_token_ttl: duration(
                "LATCHKEY_REFRESH_TOKEN_TTL",
                &args.refresh_token_ttl,
                file.refresh_token_ttl,
                2592000,
            )?,
            refresh_idle_ttl: duration(
                "LATCHKEY_REFRESH_IDLE_TTL",
                &args.refresh_idle_ttl,
                file.refresh_idle_ttl,
                604800,
            )?,
            refresh_grace: duration(
                "LATCHKEY_REFRESH_GRACE",
                &args.refresh_grace,
                file.refresh_grace,
                5,
            )?,
            session_ttl: duration("LATCHKEY_SESSION_TTL", &args.session_ttl, file.session_ttl, 43200)?,
            device_code_ttl: duration(
                "LATCHKEY_DEVICE_CODE_TTL",
                &args.device_code_ttl,
                file.device_code_ttl,
                600,
            )?,
            device_poll_interval: duration(
                "LATCHKEY_DEVICE_POLL_INTERVAL",
                &args.device_poll_interval,
                file.device_poll_interval,
                5,
            )?,
            audit_retention: duration(
                "LATCHKEY_AUDIT_RETENTION",
                &args.audit_retention,
                file.audit_retention,
                90 * 86_400,
            )?,
            token_rate_limit: args.token_rate_limit.or(file.token_rate_limit).unwrap_or(1_000),
            login_rate_limit: args.login_rate_limit.or(file.login_rate_limit).unwrap_or(30),
            log_format,
            providers,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let listen = self.listen_addr()?;
        if self.admin_listen_addr()? == Some(listen) {
            bail!("LATCHKEY_ADMIN_LISTEN: must differ from LATCHKEY_LISTEN ({listen})");
        }
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer)?;
        }
        const REGISTERED: [&str; 15] = [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "scope",
            "client_id",
            "grant_id",
            "nonce",
            "at_hash",
            "azp",
            "auth_time",
            "typ",
        ];
        let claim = self.roles_claim.as_str();
        if claim.is_empty()
            || claim.len() > 64
            || REGISTERED.contains(&claim)
            || claim.chars().any(char::is_whitespace)
        {
            bail!("LATCHKEY_ROLES_CLAIM: must be a claim name of its own, not one of {REGISTERED:?}");
        }
        if self.access_token_ttl.is_zero() || self.access_token_ttl > Duration::from_secs(86_400) {
            bail!("LATCHKEY_ACCESS_TOKEN_TTL: must be between 1 second and 24 hours");
        }
        if self.key_prepublish <= self.jwks_max_age {
            bail!(
                "LATCHKEY_KEY_PREPUBLISH ({}s) must be longer than LATCHKEY_JWKS_MAX_AGE ({}s), or verifiers that cache the JWKS would meet tokens signed by a key they have not seen",
                self.key_prepublish.as_secs(),
                self.jwks_max_age.as_secs()
            );
        }
        if self.key_refresh.is_zero() || self.key_refresh > self.key_prepublish {
            bail!("LATCHKEY_KEY_REFRESH: must be positive and no longer than the key pre-publication period");
        }
        for (name, value) in [
            ("LATCHKEY_AUTH_CODE_TTL", self.auth_code_ttl),
            ("LATCHKEY_ID_TOKEN_TTL", self.id_token_ttl),
            ("LATCHKEY_REFRESH_TOKEN_TTL", self.refresh_token_ttl),
            ("LATCHKEY_REFRESH_IDLE_TTL", self.refresh_idle_ttl),
            ("LATCHKEY_SESSION_TTL", self.session_ttl),
            ("LATCHKEY_DEVICE_CODE_TTL", self.device_code_ttl),
            ("LATCHKEY_DEVICE_POLL_INTERVAL", self.device_poll_interval),
        ] {
            if value.is_zero() {
                bail!("{name}: must be positive");
            }
        }
        if self.auth_code_ttl > Duration::from_secs(600) {
            bail!("LATCHKEY_AUTH_CODE_TTL: at most 10 minutes (RFC 6749 section 4.1.2)");
        }
        if self.refresh_grace > Duration::from_secs(60) {
            bail!("LATCHKEY_REFRESH_GRACE: at most 60 seconds; a long window weakens reuse detection");
        }
        if self.cache_ttl.is_zero() || self.cache_ttl > Duration::from_secs(300) {
            bail!("LATCHKEY_CACHE_TTL: must be between 1 second and 5 minutes");
        }
        Ok(())
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen
            .parse()
            .with_context(|| format!("LATCHKEY_LISTEN: invalid socket address {:?}", self.listen))
    }

    /// The admin listen address, parsed, if one is set.
    pub fn admin_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.admin_listen
            .as_deref()
            .map(|addr| {
                addr.parse()
                    .with_context(|| format!("LATCHKEY_ADMIN_LISTEN: invalid socket address {addr:?}"))
            })
            .transpose()
    }

    /// The core configuration, with the issuer derived from the bound address if unset.
    pub fn auth_config(&self, bound: SocketAddr) -> AuthConfig {
        let issuer = self
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned();
        AuthConfig {
            default_audience: self.default_audience.clone().unwrap_or_else(|| issuer.clone()),
            roles_claim: self.roles_claim.clone(),
            issuer,
            access_token_ttl: self.access_token_ttl,
            cache_ttl: self.cache_ttl,
            jwks_max_age: self.jwks_max_age,
            key_prepublish: self.key_prepublish,
            key_refresh: self.key_refresh,
            auth_code_ttl: self.auth_code_ttl,
            id_token_ttl: self.id_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            refresh_idle_ttl: self.refresh_idle_ttl,
            refresh_grace: self.refresh_grace,
            session_ttl: self.session_ttl,
            device_code_ttl: self.device_code_ttl,
            device_poll_interval: self.device_poll_interval,
            audit_retention: self.audit_retention,
            deployment: latchkey_core::doctor::Deployment::default(),
            token_rate_limit: self.token_rate_limit,
            login_rate_limit: self.login_rate_limit,
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("LATCHKEY_CONFIG: cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        let line = error.span().map_or(0, |span| {
            text.get(..span.start).unwrap_or_default().lines().count().max(1)
        });
        anyhow::anyhow!(
            "LATCHKEY_CONFIG: {} line {line}: {}",
            path.display(),
            error.message().trim()
        )
    })
}

fn check_issuer(issuer: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(issuer).with_context(|| format!("LATCHKEY_ISSUER: {issuer:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("LATCHKEY_ISSUER: {issuer:?} must be an http or https URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("LATCHKEY_ISSUER: {issuer:?} may not have a query or fragment (RFC 8414 section 2)");
    }
    Ok(())
}

/// Parses `90`, `90s`, `15m`, `1h` or `2d`.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits
        .parse()
        .context("expected a number with an optional unit s, m, h or d")?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => bail!("unknown unit {other:?} (use s, m, h or d)"),
    };
    value
        .checked_mul(scale)
        .map(Duration::from_secs)
        .context("duration too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_plain_seconds_and_units() {
        assert_eq!(parse_duration("90").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m").ok(), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h").ok(), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d").ok(), Some(Duration::from_secs(172_800)));
        for bad in ["", "m", "10x", "-5", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("latchkey-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("latchkey.toml");
        let written = std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nadmin_listen = \"127.0.0.1:9998\"\naccess_token_ttl = \"5m\"\ncache_ttl = 2\n",
        );
        assert!(written.is_ok());
        let args = SettingsArgs {
            config: Some(path),
            access_token_ttl: Some("60".into()),
            ..Default::default()
        };
        let settings = Settings::resolve(&args).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(settings.listen, "127.0.0.1:9999");
        assert_eq!(settings.admin_listen.as_deref(), Some("127.0.0.1:9998"));
        assert_eq!(settings.access_token_ttl, Duration::from_secs(60));
        assert_eq!(settings.cache_ttl, Duration::from_secs(2));
        assert_eq!(settings.key_prepublish, Duration::from_secs(3600));
        assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_name_the_setting() {
        let dir = std::env::temp_dir().join(format!("latchkey-config-bad-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("bad.toml");
        assert!(std::fs::write(&path, "lisen = \"x\"\n").is_ok());
        let err = Settings::resolve(&SettingsArgs {
            config: Some(path),
            ..Default::default()
        });
        assert!(err.is_err());
        let err = Settings::resolve(&SettingsArgs {
            listen: Some("nonsense".into()),
            ..Default::default()
        });
        assert!(
            format!("{:#}", err.err().map(|e| e.to_string()).unwrap_or_default()).contains("LATCHKEY_LISTEN")
        );
        for admin in ["nonsense", "127.0.0.1:8080"] {
            let err = Settings::resolve(&SettingsArgs {
                admin_listen: Some(admin.into()),
                ..Default::default()
            });
            let message = err.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("LATCHKEY_ADMIN_LISTEN"), "{admin}: {message}");
        }
        let err = Settings::resolve(&SettingsArgs {
            key_prepublish: Some("60".into()),
            ..Default::default()
        });
        assert!(err.is_err());
        let err = Settings::resolve(&SettingsArgs {
            issuer: Some("https://x/?q=1".into()),
            ..Default::default()
        });
        assert!(err.is_err());
    }
}
