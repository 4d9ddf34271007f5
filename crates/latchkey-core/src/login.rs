//! Logging in: password checks and server-side browser sessions.
//!
//! Password verification is argon2id on a blocking thread, at most two at a time, so a
//! login storm never stalls token traffic. An unknown username costs the same argon2 work
//! as a wrong password, and both get the same answer.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::Session;
use crate::secret::OpaqueToken;
use crate::user::{User, verify_password};

/// How many argon2 verifications may run at once: one per core on the reference machine.
const CONCURRENT_HASHES: usize = 2;

fn hashing_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(CONCURRENT_HASHES))
}

/// Runs argon2 work off the async executor, bounded.
pub async fn run_hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OAuthError> {
    let _permit = hashing_permits().acquire().await.map_err(OAuthError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(OAuthError::internal)
}

/// Checks a username and password; `None` for any mismatch, after the same work.
pub async fn check_password(
    context: &Context,
    username: &str,
    password: &str,
) -> Result<Option<User>, OAuthError> {
    let found = if username.is_empty() || username.len() > 256 {
        None
    } else {
        context.store.find_user_by_username(username).await?
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password = password.to_owned();
    let matches = run_hashing(move || verify_password(hash.as_deref(), &password)).await?;
    // The attempted name is not recorded (people type passwords into it); a failure for
    // an existing account names the account.
    let now = context.now();
    let event = match (&user, matches) {
        (Some(user), true) => {
            AuditEvent::new(AuditKind::LoginSucceeded, now, &Actor::User(user.id.clone())).subject(&user.id)
        }
        (Some(user), false) => AuditEvent::new(AuditKind::LoginFailed, now, &Actor::Anonymous)
            .subject(&user.id)
            .with("reason", "wrong password"),
        (None, _) => {
            AuditEvent::new(AuditKind::LoginFailed, now, &Actor::Anonymous).with("reason", "unknown user")
        }
    };
    context.audit.record(event).await;
    Ok(user.filter(|_| matches))
}

/// Starts a fresh session for `user` (a new id on every login, so no fixation) and returns
/// the cookie value.
pub async fn start_session(
    context: &Context,
    user: &User,
    now: Timestamp,
) -> Result<OpaqueToken, OAuthError> {
    let token = OpaqueToken::generate();
    let session = Session {
        user_id: user.id.clone(),
        auth_time: now,
        expires_at: now + context.config.session_ttl,
    };
    context
        .store
        .insert_session(&context.hasher.hash_token(&token), &session)
        .await?;
    Ok(token)
}

/// The live session a cookie value names.
pub async fn find_session(
    context: &Context,
    cookie: &str,
    now: Timestamp,
) -> Result<Option<Session>, OAuthError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(None);
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(cookie));
    Ok(context.store.find_session(&hash, now).await?)
}

/// Ends the session a cookie value names.
pub async fn end_session(context: &Context, cookie: &str) -> Result<(), OAuthError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(());
    }
    let now = context.now();
    let hash = context.hasher.hash_token(&OpaqueToken::presented(cookie));
    if let Some(session) = context.store.find_session(&hash, now).await? {
        context
            .audit
            .record(
                AuditEvent::new(AuditKind::Logout, now, &Actor::User(session.user_id.clone()))
                    .subject(&session.user_id),
            )
            .await;
    }
    Ok(context.store.delete_session(&hash).await?)
}
