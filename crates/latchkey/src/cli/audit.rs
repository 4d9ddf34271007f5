//! `latchkey audit`: the audit trail, filtered, newest first.

use anyhow::Context as _;
use clap::Args;
use latchkey_core::audit::{AuditKind, AuditQuery};
use latchkey_core::clock::{Clock as _, SystemClock, Timestamp};
use latchkey_core::id::{ClientId, UserId};

use crate::app;
use crate::config::{Settings, parse_duration};

/// Query the audit trail (newest first).
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only events at or after this: a duration back from now (`24h`, `7d`) or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only events before this: a duration back from now or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// Only events concerning this user (`sub`).
    #[arg(long, value_name = "SUB")]
    subject: Option<String>,
    /// Only events concerning this client.
    #[arg(long, value_name = "CLIENT_ID")]
    client: Option<String>,
    /// Only events of this kind, e.g. token.issued, login.failed, refresh.reuse_detected.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// `24h` (that long ago) or an RFC 3339 time.
fn parse_when(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Ok(at) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(Timestamp::from_secs(at.unix_timestamp()));
    }
    let ago = parse_duration(text)
        .with_context(|| format!("{text:?} is neither a duration like 24h nor an RFC 3339 time"))?;
    Ok(Timestamp::from_secs(now.as_secs().saturating_sub(
        i64::try_from(ago.as_secs()).unwrap_or(i64::MAX),
    )))
}

impl AuditArgs {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let now = SystemClock.now();
        let query = AuditQuery {
            since: self.since.as_deref().map(|t| parse_when(t, now)).transpose()?,
            until: self.until.as_deref().map(|t| parse_when(t, now)).transpose()?,
            subject: self.subject.map(UserId::new),
            client_id: self.client.map(ClientId::new),
            kind: self.kind.as_deref().map(str::parse::<AuditKind>).transpose()?,
            before_id: None,
            limit: self.limit,
        };
        let opened = app::open(settings).await?;
        let events = opened.store.list_audit_events(&query).await?;
        for event in &events {
            let json = event.to_json();
            if self.json {
                println!("{json}");
            } else {
                println!(
                    "{}  {:<22}  {:<34}  {}{}  {}",
                    json.get("time").and_then(|t| t.as_str()).unwrap_or("-"),
                    event.kind.as_str(),
                    event.actor,
                    event
                        .subject
                        .as_ref()
                        .map_or(String::new(), |s| format!("sub={s} ")),
                    event
                        .client_id
                        .as_ref()
                        .map_or(String::new(), |c| format!("client={c}")),
                    serde_json::Value::Object(event.detail.clone())
                );
            }
        }
        if events.is_empty() && !self.json {
            eprintln!("no matching events");
        }
        Ok(())
    }
}
