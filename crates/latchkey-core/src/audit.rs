//! The audit trail: security-relevant events, recorded in the database and in structured
//! logs, and shown to observers (the server's metrics).
//!
//! An event names who it concerns (subject, client), who caused it (actor) and the facts
//! that matter (grant type, scopes, `jti`, grant id, reason), never a secret or a token
//! value: a token is named by its `jti` or its grant. Events reach the database through a
//! bounded queue that a background task flushes in batches, so recording one costs a
//! channel send on the hot path (client credentials issue tens of thousands of tokens per
//! second; one database write each would cap that near the writer's rate). When the queue
//! is full, requests wait for room rather than lose events; a crash loses at most the last
//! flush interval.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::id::{ClientId, UserId};
use crate::store::Store;

macro_rules! kinds {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// What happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditKind {
            $(#[doc = $doc] $variant,)*
        }

        impl AuditKind {
            /// Every kind, in a stable order.
            pub const ALL: &'static [AuditKind] = &[$(AuditKind::$variant,)*];

            /// The stable name, as stored and as filtered on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $name,)*
                }
            }
        }
    };
}

kinds! {
    LoginSucceeded => "login.succeeded": "A user signed in with their password.",
    LoginFailed => "login.failed": "A sign-in was refused (the attempted name is not recorded).",
    Logout => "logout": "A user signed out.",
    SessionsEnded => "sessions.ended": "A user ended all their sessions.",
    PasswordChanged => "password.changed": "A user's password was changed.",
    ConsentGiven => "consent.given": "A user approved a client's request (authorize or device).",
    ConsentDenied => "consent.denied": "A user denied a client's request.",
    TokenIssued => "token.issued": "An access token was issued (grant type, scopes, jti).",
    RefreshRotated => "refresh.rotated": "A refresh token was exchanged for its successor.",
    RefreshReuseDetected => "refresh.reuse_detected": "A rotated refresh token came back after the grace window; its grant was revoked.",
    CodeReplayed => "code.replayed": "An authorization code was presented twice; its grant was revoked.",
    GrantRevoked => "grant.revoked": "A grant and every token issued under it were revoked.",
    TokenRevoked => "token.revoked": "A token was revoked (RFC 7009).",
    ClientCreated => "client.created": "A client was registered.",
    ClientUpdated => "client.updated": "A client's registration changed.",
    ClientDeleted => "client.deleted": "A client was deleted.",
    ClientSecretRotated => "client.secret_rotated": "A client's secret was replaced.",
    UserCreated => "user.created": "A user was created.",
    UserUpdated => "user.updated": "A user's profile changed.",
    UserDeleted => "user.deleted": "A user was deleted.",
    RoleGranted => "role.granted": "A user was given a role.",
    RoleRevoked => "role.revoked": "A role was taken from a user.",
    MfaEnrolled => "mfa.enrolled": "A user set up two-step sign-in.",
    MfaRemoved => "mfa.removed": "A user's two-step sign-in was removed.",
    MfaSucceeded => "mfa.succeeded": "A second-step code (or recovery code) was accepted.",
    MfaFailed => "mfa.failed": "A second-step code was refused.",
    PasskeyAdded => "passkey.added": "A user registered a passkey.",
    PasskeyRemoved => "passkey.removed": "A user removed a passkey.",
    PasskeyUsed => "passkey.used": "A passkey signed a user in (alone or as the second step).",
    PasskeyFailed => "passkey.failed": "A passkey response was refused.",
    IdentityLinked => "identity.linked": "An upstream identity was linked to a user.",
    IdentityUnlinked => "identity.unlinked": "An upstream identity was unlinked from a user.",
    KeyCreated => "key.created": "A signing key was created.",
    KeyDeleted => "key.deleted": "A signing key past its retention was deleted.",
    RateLimited => "rate_limited": "A request was refused by an abuse limit.",
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event kind name that is not one of [`AuditKind::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown audit event kind {0:?} (known: {known})", known = AuditKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for AuditKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, in the browser.
    User(UserId),
    /// A client, authenticated at an endpoint (or an operator client at the admin API).
    Client(ClientId),
    /// The command line, working on the database directly.
    Cli,
    /// Latchkey itself (key rotation, reuse detection).
    System,
    /// Someone not (yet) identified, by network address.
    Anonymous,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Client(id) => write!(f, "client:{id}"),
            Actor::Cli => f.write_str("cli"),
            Actor::System => f.write_str("system"),
            Actor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Its id in the store (0 until stored).
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: AuditKind,
    /// The user it concerns.
    pub subject: Option<UserId>,
    /// The client it concerns.
    pub client_id: Option<ClientId>,
    /// Who caused it, as [`Actor`] displays.
    pub actor: String,
    /// The facts: grant type, scopes, jti, grant id, reason. Never a secret or a token.
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    /// A new event of `kind` at `at`, caused by `actor`.
    pub fn new(kind: AuditKind, at: Timestamp, actor: &Actor) -> Self {
        Self {
            id: 0,
            at,
            kind,
            subject: None,
            client_id: None,
            actor: actor.to_string(),
            detail: Map::new(),
        }
    }

    /// Names the user it concerns.
    #[must_use]
    pub fn subject(mut self, user: &UserId) -> Self {
        self.subject = Some(user.clone());
        self
    }

    /// Names the client it concerns.
    #[must_use]
    pub fn client(mut self, client: &ClientId) -> Self {
        self.client_id = Some(client.clone());
        self
    }

    /// The event as JSON: `id`, `at` (Unix seconds), `time` (RFC 3339), `kind`, `subject`,
    /// `client_id`, `actor`, `detail`.
    pub fn to_json(&self) -> Value {
        let time = time::OffsetDateTime::from_unix_timestamp(self.at.as_secs())
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        serde_json::json!({
            "id": self.id,
            "at": self.at.as_secs(),
            "time": time,
            "kind": self.kind.as_str(),
            "subject": self.subject.as_ref().map(UserId::as_str),
            "client_id": self.client_id.as_ref().map(ClientId::as_str),
            "actor": self.actor,
            "detail": Value::Object(self.detail.clone()),
        })
    }

    /// Adds a fact.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(name.to_owned(), value.into());
        self
    }
}

/// A filter over the trail; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// Concerning this user.
    pub subject: Option<UserId>,
    /// Concerning this client.
    pub client_id: Option<ClientId>,
    /// Of this kind.
    pub kind: Option<AuditKind>,
    /// Only events with an id below this (the next page of a newest-first listing).
    pub before_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// Something that wants to see every event as it happens (the server's metrics).
pub trait AuditObserver: Send + Sync {
    /// Called once per event, on the request's task: keep it cheap.
    fn observe(&self, event: &AuditEvent);
}

/// Events waiting to be written; requests wait when this many are queued.
const QUEUE: usize = 16_384;
/// At most this many events per write (six parameters each: within both databases'
/// limits on bound parameters).
const BATCH: usize = 2_048;
/// How long an event may wait in the queue before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Records events: to the structured log at once, to observers, and to the store in batches.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<AuditEvent>,
    observers: Arc<std::sync::RwLock<Vec<Arc<dyn AuditObserver>>>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the task that writes events to `store`; it ends, after a last flush, when
    /// every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(store, events));
        Self {
            queue,
            observers: Arc::default(),
        }
    }

    /// Adds an observer of every later event.
    pub fn observe(&self, observer: Arc<dyn AuditObserver>) {
        if let Ok(mut observers) = self.observers.write() {
            observers.push(observer);
        }
    }

    /// Records an event.
    pub async fn record(&self, event: AuditEvent) {
        tracing::info!(
            target: "latchkey::audit",
            kind = event.kind.as_str(),
            subject = event.subject.as_ref().map(UserId::as_str),
            client_id = event.client_id.as_ref().map(ClientId::as_str),
            actor = %event.actor,
            detail = %serde_json::Value::Object(event.detail.clone()),
            "audit"
        );
        if let Ok(observers) = self.observers.read() {
            for observer in observers.iter() {
                observer.observe(&event);
            }
        }
        if self.queue.send(event).await.is_err() {
            tracing::error!("the audit writer has stopped; an event was not stored");
        }
    }
}

async fn write_events(store: Arc<dyn Store>, mut events: mpsc::Receiver<AuditEvent>) {
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        // A trickle waits a moment to gather into one write; a flood is written at once.
        if batch.len() < BATCH / 4 {
            tokio::time::sleep(FLUSH_EVERY).await;
            while batch.len() < BATCH {
                match events.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
        }
        write_batch(store.as_ref(), &mut batch).await;
    }
}

async fn write_batch(store: &dyn Store, batch: &mut Vec<AuditEvent>) {
    // The database may be briefly away (a restart behind a proxy): keep the events and
    // try again, a few times, before giving them up loudly.
    for attempt in 1..=10u32 {
        match store.insert_audit_events(batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(error) => {
                tracing::warn!(%error, attempt, events = batch.len(), "storing audit events failed");
                tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            }
        }
    }
    tracing::error!(
        events = batch.len(),
        "audit events dropped after repeated store failures"
    );
    batch.clear();
}

/// Records that an access token was issued.
#[allow(clippy::too_many_arguments)] // the facts of one issuance, each recorded
pub(crate) async fn token_issued(
    context: &crate::Context,
    grant_type: &str,
    client: &ClientId,
    subject: Option<&UserId>,
    scopes: &crate::scope::ScopeSet,
    jti: &crate::id::Jti,
    grant: Option<&crate::id::FamilyId>,
    now: Timestamp,
) {
    let mut event = AuditEvent::new(AuditKind::TokenIssued, now, &Actor::Client(client.clone()))
        .client(client)
        .with("grant_type", grant_type)
        .with("scope", scopes.to_string())
        .with("jti", jti.as_str());
    if let Some(subject) = subject {
        event = event.subject(subject);
    }
    if let Some(grant) = grant {
        event = event.with("grant_id", grant.as_str());
    }
    context.audit.record(event).await;
}

/// Records a user's decision on a client's request (`ConsentGiven` or `ConsentDenied`),
/// from the authorization endpoint or the device flow (`flow`).
pub(crate) async fn consent(
    context: &crate::Context,
    kind: AuditKind,
    user: &UserId,
    client: &ClientId,
    scopes: &crate::scope::ScopeSet,
    flow: &str,
    now: Timestamp,
) {
    let event = AuditEvent::new(kind, now, &Actor::User(user.clone()))
        .subject(user)
        .client(client)
        .with("scope", scopes.to_string())
        .with("flow", flow);
    context.audit.record(event).await;
}

/// The trail, filtered; newest first.
pub async fn query(store: &dyn Store, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
    store.list_audit_events(query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AuditKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditKind>().ok(), Some(*kind));
        }
        let unknown = "token.stolen".parse::<AuditKind>().err().map(|e| e.to_string());
        assert!(unknown.is_some_and(|e| e.contains("token.issued")));
    }

    #[test]
    fn events_carry_their_facts() {
        let event = AuditEvent::new(
            AuditKind::TokenIssued,
            Timestamp::from_secs(5),
            &Actor::Client(ClientId::new("c")),
        )
        .client(&ClientId::new("c"))
        .subject(&UserId::new("u"))
        .with("grant_type", "client_credentials");
        assert_eq!(event.actor, "client:c");
        assert_eq!(
            event.detail.get("grant_type"),
            Some(&Value::from("client_credentials"))
        );
        assert_eq!(event.subject.as_ref().map(UserId::as_str), Some("u"));
    }
}
