//! `latchkey key ...`: signing-key listing and rotation.

use clap::Subcommand;
use latchkey_core::audit::AuditKind;
use latchkey_core::keys::{self, Algorithm, KeySealer, KeyState, key_states};
use latchkey_core::{Clock as _, SystemClock};
use serde_json::json;

use crate::app;
use crate::config::{Settings, parse_duration};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// List signing keys with their state (next, active, retired, expired) and dates.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a rotation: publish a new key now; it signs after the pre-publication period.
    Rotate {
        /// ES256 (access tokens), RS256 (ID tokens) or all.
        #[arg(long, default_value = "all", value_name = "ALG")]
        alg: String,
        /// Override the pre-publication period (e.g. 0 after a key compromise; verifiers
        /// that cached the JWKS will then reject new tokens until they refetch it).
        #[arg(long, value_name = "DURATION")]
        prepublish: Option<String>,
    },
}

impl KeyCommand {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let opened = app::open(settings).await?;
        let store = opened.store.as_ref();
        let now = SystemClock.now();
        let policy = settings.auth_config(settings.listen_addr()?).rotation_policy();
        match self {
            Self::List { json } => {
                let keys = store.list_keys().await?;
                let states = key_states(&keys, now, policy.retention);
                if json {
                    let list: Vec<_> = keys
                        .iter()
                        .zip(&states)
                        .map(|(key, state)| {
                            json!({
                                "kid": key.kid.as_str(),
                                "alg": key.alg.as_str(),
                                "state": state.to_string(),
                                "created_at": key.created_at.as_secs(),
                                "signs_from": key.activates_at.as_secs(),
                                "retired_at": retired_at(*state),
                                "published_until": published_until(*state).map(latchkey_core::Timestamp::as_secs),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                    return Ok(());
                }
                println!(
                    "{:<18} {:<6} {:<8} {:<21} {:<21} {:<21}",
                    "KID", "ALG", "STATE", "CREATED", "SIGNS FROM", "PUBLISHED UNTIL"
                );
                for (key, state) in keys.iter().zip(states) {
                    let until = published_until(state).map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
                    println!(
                        "{:<18} {:<6} {:<8} {:<21} {:<21} {until:<21}",
                        key.kid,
                        key.alg,
                        state,
                        key.created_at.to_rfc3339(),
                        key.activates_at.to_rfc3339()
                    );
                }
            }
            Self::Rotate { alg, prepublish } => {
                let algorithms: Vec<Algorithm> = if alg.eq_ignore_ascii_case("all") {
                    Algorithm::ALL.to_vec()
                } else {
                    vec![alg.parse::<Algorithm>().map_err(anyhow::Error::msg)?]
                };
                let prepublish = match prepublish {
                    Some(text) => parse_duration(&text).map_err(|e| e.context("--prepublish"))?,
                    None => policy.prepublish,
                };
                if prepublish < settings.jwks_max_age {
                    eprintln!(
                        "warning: the pre-publication period is shorter than the JWKS cache lifetime ({}s); verifiers with a cached JWKS may reject new tokens until they refetch it",
                        settings.jwks_max_age.as_secs()
                    );
                }
                let sealer = KeySealer::new(&opened.master)?;
                for alg in algorithms {
                    let key = keys::rotate(store, &sealer, alg, now, prepublish).await?;
                    opened
                        .audit(AuditKind::KeyCreated, |e| {
                            e.with("kid", key.kid.to_string())
                                .with("alg", key.alg.to_string())
                                .with("activates_at", key.activates_at.as_secs())
                        })
                        .await?;
                    println!(
                        "published {alg} key {} now; it starts signing at {} (running servers pick it up within {}s)",
                        key.kid,
                        key.activates_at.to_rfc3339(),
                        settings.key_refresh.as_secs()
                    );
                }
            }
        }
        Ok(())
    }
}

fn retired_at(state: KeyState) -> Option<i64> {
    match state {
        KeyState::Retired { since, .. } | KeyState::Expired { since } => Some(since.as_secs()),
        KeyState::Next | KeyState::Active => None,
    }
}

fn published_until(state: KeyState) -> Option<latchkey_core::Timestamp> {
    match state {
        KeyState::Retired { until, .. } => Some(until),
        _ => None,
    }
}
