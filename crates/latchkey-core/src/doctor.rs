//! The security posture report: the live configuration and registry checked against the
//! pitfalls OAuth deployments fall into (RFC 9700, RFC 6819), each finding with a severity,
//! what it concerns, the reason and the fix. `latchkey doctor` and `GET /admin/v1/doctor`
//! print it; a high finding makes the command exit non-zero, for operators' own CI.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::audit::{AuditKind, AuditQuery};
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::AuthConfig;
use crate::error::StoreError;
use crate::keys::{KeyState, key_states};
use crate::store::Store;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Fix it soon.
    Medium,
    /// Fix it now: the command exits non-zero.
    High,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A stable name for the check, e.g. `implicit-grant`.
    pub check: &'static str,
    /// What it concerns: `client:ID`, `setting:NAME`, `key:KID` or `deployment`.
    pub subject: String,
    /// What is wrong.
    pub problem: String,
    /// Why it matters, with the RFC section.
    pub reason: &'static str,
    /// What to do.
    pub fix: String,
}

/// Facts about the deployment that the store does not hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deployment {
    /// The key-encryption key is a file next to the database.
    pub master_key_beside_database: bool,
}

/// A client unused scopes for this long are over-scoped.
pub const OVER_SCOPED_AFTER: Duration = Duration::from_secs(30 * 86_400);
/// A confidential client's secret older than this should be rotated.
pub const SECRET_ROTATE_AFTER: Duration = Duration::from_secs(180 * 86_400);
/// An active signing key older than this is overdue for rotation.
pub const KEY_ROTATE_AFTER: Duration = Duration::from_secs(90 * 86_400);

fn days(duration: Duration) -> u64 {
    duration.as_secs() / 86_400
}

fn ago(now: Timestamp, duration: Duration) -> Timestamp {
    Timestamp::from_secs(
        now.as_secs()
            .saturating_sub(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)),
    )
}

/// Examines the deployment; findings sorted most severe first.
pub async fn examine(
    store: &dyn Store,
    config: &AuthConfig,
    deployment: Deployment,
    now: Timestamp,
) -> Result<Vec<Finding>, StoreError> {
    let mut findings = settings(config, deployment);
    for client in store.list_clients().await? {
        findings.extend(client_findings(store, &client, config, now).await?);
    }
    findings.extend(privileged_users_without_mfa(store).await?);
    let keys = store.list_keys().await?;
    for (key, state) in keys
        .iter()
        .zip(key_states(&keys, now, config.rotation_policy().retention))
    {
        if state == KeyState::Active && key.activates_at < ago(now, KEY_ROTATE_AFTER) {
            findings.push(Finding {
                severity: Severity::Medium,
                check: "key-rotation-overdue",
                subject: format!("key:{}", key.kid),
                problem: format!(
                    "the active {} key has signed for over {} days",
                    key.alg,
                    days(KEY_ROTATE_AFTER)
                ),
                reason: "RFC 7517 §8 and RFC 9700 §4.17: rotating keys bounds what a leaked key can sign",
                fix: "latchkey key rotate (verifiers pick the new key up from the JWKS)".into(),
            });
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.check.cmp(b.check)));
    Ok(findings)
}

/// Users who hold a restricted scope through a role but sign in with a password alone.
async fn privileged_users_without_mfa(store: &dyn Store) -> Result<Vec<Finding>, StoreError> {
    let restricted = store.restricted_scopes().await?;
    let mut findings = Vec::new();
    if restricted.iter().next().is_none() {
        return Ok(findings);
    }
    for user in store.list_users().await? {
        let privileged: Vec<String> = store
            .user_roles(&user.id)
            .await?
            .into_iter()
            .filter(|role| role.scopes.iter().any(|s| restricted.contains(s.as_str())))
            .map(|role| role.name)
            .collect();
        if privileged.is_empty()
            || store.find_totp(&user.id).await?.is_some_and(|t| t.confirmed)
            || !store.list_passkeys(&user.id).await?.is_empty()
        {
            continue;
        }
        findings.push(Finding {
            severity: Severity::Medium,
            check: "privileged-user-without-mfa",
            subject: format!("user:{}", user.id),
            problem: format!(
                "{} holds restricted permissions (role {}) but signs in with a password alone",
                user.username,
                privileged.join(", ")
            ),
            reason: "NIST SP 800-63B §4.2 (AAL2): a phished or guessed password alone should not give privileged access",
            fix: "have the user turn on two-step sign-in on their account page, and let clients ask for it with acr_values=urn:latchkey:acr:mfa".into(),
        });
    }
    Ok(findings)
}

fn settings(config: &AuthConfig, deployment: Deployment) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut setting = |severity, check, name: &str, problem: String, reason, fix: &str| {
        findings.push(Finding {
            severity,
            check,
            subject: format!("setting:{name}"),
            problem,
            reason,
            fix: fix.to_owned(),
        });
    };
    let issuer = url::Url::parse(&config.issuer).ok();
    let loopback = issuer
        .as_ref()
        .and_then(|u| {
            u.host_str()
                .map(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
        })
        .unwrap_or(false);
    if issuer.as_ref().is_some_and(|u| u.scheme() != "https") && !loopback {
        setting(
            Severity::High,
            "issuer-not-https",
            "issuer",
            format!("the issuer {} is not https", config.issuer),
            "RFC 8414 §2 and RFC 6749 §10.9: tokens, codes and passwords cross the network in the clear",
            "serve behind TLS and set --issuer https://...",
        );
    }
    if issuer
        .as_ref()
        .is_some_and(|u| matches!(u.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))))
    {
        setting(
            Severity::Low,
            "issuer-is-an-ip-address",
            "issuer",
            format!("the issuer {} names an IP address, not a domain", config.issuer),
            "WebAuthn Level 3 §5.1.4.1: a relying party id must be a domain, so browsers refuse passkeys here",
            "serve under a domain name (http://localhost for development) and set --issuer to it",
        );
    }
    if config.access_token_ttl > Duration::from_secs(3600) {
        setting(
            Severity::Medium,
            "long-access-tokens",
            "access_token_ttl",
            format!(
                "access tokens live {} minutes",
                config.access_token_ttl.as_secs() / 60
            ),
            "RFC 6819 §5.1.5.3 and RFC 9700 §4.14: a stolen access token is good until it expires",
            "--access-token-ttl 15m (clients refresh)",
        );
    }
    if config.refresh_token_ttl > Duration::from_secs(90 * 86_400) {
        setting(
            Severity::Low,
            "long-refresh-tokens",
            "refresh_token_ttl",
            format!(
                "refresh-token grants live {} days",
                days(config.refresh_token_ttl)
            ),
            "RFC 9700 §4.14.2: bound the life of refresh tokens",
            "--refresh-token-ttl 30d",
        );
    }
    if config.refresh_idle_ttl > Duration::from_secs(30 * 86_400) {
        setting(
            Severity::Low,
            "long-refresh-idle",
            "refresh_idle_ttl",
            format!(
                "an unused refresh token lives {} days",
                days(config.refresh_idle_ttl)
            ),
            "RFC 9700 §4.14.2: expire refresh tokens that are not used",
            "--refresh-idle-ttl 7d",
        );
    }
    if config.refresh_grace > Duration::from_secs(30) {
        setting(
            Severity::Medium,
            "long-refresh-grace",
            "refresh_grace",
            format!(
                "a rotated refresh token may be reused for {} seconds",
                config.refresh_grace.as_secs()
            ),
            "RFC 9700 §4.14.2: reuse detection only works once the grace window has passed",
            "--refresh-grace 5s",
        );
    }
    if deployment.master_key_beside_database {
        setting(
            Severity::High,
            "master-key-beside-database",
            "master_key",
            "the key-encryption key is a file next to the database".into(),
            "RFC 6819 §5.1.4.1.3: whoever copies the data directory gets the signing keys with it",
            "set LATCHKEY_MASTER_KEY from a secret store and delete the key file after backing it up",
        );
    }
    for (name, limit, what) in [
        ("token_rate_limit", config.token_rate_limit, "the token endpoint"),
        ("login_rate_limit", config.login_rate_limit, "the login form"),
    ] {
        if limit == 0 {
            setting(
                Severity::Medium,
                "rate-limit-off",
                name,
                format!("{what} has no rate limit"),
                "RFC 6819 §5.1.4.2.3 and §5.2.3.7: online guessing of passwords and client secrets",
                "leave the limit on (the defaults), or enforce one in front of Latchkey",
            );
        }
    }
    findings
}

async fn client_findings(
    store: &dyn Store,
    client: &Client,
    config: &AuthConfig,
    now: Timestamp,
) -> Result<Vec<Finding>, StoreError> {
    let mut findings = Vec::new();
    let subject = format!("client:{}", client.id);
    if client.allows(GrantType::Implicit) {
        findings.push(Finding {
            severity: Severity::Medium,
            check: "implicit-grant",
            subject: subject.clone(),
            problem: format!("{} is registered for the implicit grant", client.name),
            reason: "RFC 9700 §2.1.2: tokens in the URL fragment leak and cannot be sender-constrained",
            fix: "move the client to authorization_code with PKCE and remove implicit".into(),
        });
    }
    for uri in &client.redirect_uris {
        let parsed = url::Url::parse(uri.as_str()).ok();
        let loopback = parsed
            .as_ref()
            .and_then(|u| u.host_str())
            .is_some_and(|h| h == "127.0.0.1" || h == "[::1]" || h == "localhost");
        if parsed.is_some_and(|u| u.scheme() == "http") && !loopback {
            findings.push(Finding {
                severity: Severity::High,
                check: "http-redirect-uri",
                subject: subject.clone(),
                problem: format!("redirect URI {} is plain http", uri.as_str()),
                reason: "RFC 6749 §3.1.2.1 and RFC 9700 §4.1: codes sent over http can be read on the way",
                fix: "register the https URI instead".into(),
            });
        }
    }
    if client.created_at < ago(now, OVER_SCOPED_AFTER) {
        let issued = store
            .list_audit_events(&AuditQuery {
                client_id: Some(client.id.clone()),
                kind: Some(AuditKind::TokenIssued),
                since: Some(ago(now, OVER_SCOPED_AFTER)),
                limit: 10_000,
                ..AuditQuery::default()
            })
            .await?;
        let used: BTreeSet<&str> = issued
            .iter()
            .filter_map(|e| e.detail.get("scope").and_then(|s| s.as_str()))
            .flat_map(|s| s.split(' '))
            .collect();
        let unused: Vec<&str> = client
            .scopes
            .iter()
            .map(|s| s.as_str())
            .filter(|s| !used.contains(s))
            .collect();
        if !unused.is_empty() {
            findings.push(Finding {
                severity: Severity::Medium,
                check: "over-scoped-client",
                subject: subject.clone(),
                problem: format!(
                    "{} may ask for {} but has not in {} days",
                    client.name,
                    unused.join(" "),
                    days(OVER_SCOPED_AFTER)
                ),
                reason: "RFC 9700 §2.3 and RFC 6819 §5.1.5.1: least privilege; an unused scope is only risk",
                fix: format!("drop the unused scopes (PATCH /admin/v1/clients/{})", client.id),
            });
        }
    }
    if !client.is_public() && client.created_at < ago(now, SECRET_ROTATE_AFTER) {
        let rotated = store
            .list_audit_events(&AuditQuery {
                client_id: Some(client.id.clone()),
                kind: Some(AuditKind::ClientSecretRotated),
                since: Some(ago(now, SECRET_ROTATE_AFTER)),
                limit: 1,
                ..AuditQuery::default()
            })
            .await?;
        if rotated.is_empty() {
            findings.push(Finding {
                severity: Severity::Low,
                check: "stale-client-secret",
                subject: subject.clone(),
                problem: format!(
                    "the secret of {} has not been rotated in {} days (as far as the audit trail, kept {} days, knows)",
                    client.name,
                    days(SECRET_ROTATE_AFTER),
                    days(config.audit_retention)
                ),
                reason: "RFC 6819 §5.2.3.1: a long-lived secret has had long to leak",
                fix: format!("latchkey client rotate-secret {}", client.id),
            });
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_settings_are_found_and_defaults_are_clean() {
        let defaults = settings(
            &AuthConfig::with_defaults("https://id.example.com"),
            Deployment::default(),
        );
        assert!(defaults.is_empty(), "{defaults:?}");

        let mut risky = AuthConfig::with_defaults("http://id.example.com");
        risky.access_token_ttl = Duration::from_secs(7200);
        risky.refresh_grace = Duration::from_secs(60);
        risky.token_rate_limit = 0;
        let found = settings(
            &risky,
            Deployment {
                master_key_beside_database: true,
            },
        );
        let checks: BTreeSet<&str> = found.iter().map(|f| f.check).collect();
        for check in [
            "issuer-not-https",
            "long-access-tokens",
            "long-refresh-grace",
            "master-key-beside-database",
            "rate-limit-off",
        ] {
            assert!(checks.contains(check), "{check}");
        }
        let local = settings(
            &AuthConfig::with_defaults("http://127.0.0.1:8080"),
            Deployment::default(),
        );
        assert!(
            local.iter().all(|f| f.check != "issuer-not-https"),
            "loopback http is fine for development"
        );
        // An IP address is no WebAuthn relying party id; localhost is.
        assert!(local.iter().any(|f| f.check == "issuer-is-an-ip-address"));
        let named = settings(
            &AuthConfig::with_defaults("http://localhost:8080"),
            Deployment::default(),
        );
        assert!(named.is_empty(), "{named:?}");
    }
}
