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

/// Every way `user` can sign in, so that removing one never leaves none.
#[derive(Debug)]
pub struct WaysIn {
    /// A password (federated accounts may have none).
    pub password: bool,
    /// Linked upstream identities.
    pub identities: Vec<crate::federation::LinkedIdentity>,
    /// Passkeys.
    pub passkeys: Vec<crate::store::Passkey>,
}

impl WaysIn {
    /// How many there are.
    pub fn count(&self) -> usize {
        usize::from(self.password) + self.identities.len() + self.passkeys.len()
    }
}

/// The ways `user` can sign in.
pub async fn ways_in(context: &Context, user: &crate::id::UserId) -> Result<WaysIn, OAuthError> {
    let password = match context.store.find_user(user).await? {
        Some(found) => context
            .store
            .find_user_by_username(&found.username)
            .await?
            .is_some_and(|(_, hash)| hash != crate::user::NO_PASSWORD),
        None => false,
    };
    Ok(WaysIn {
        password,
        identities: context.store.list_identities(user).await?,
        passkeys: context.store.list_passkeys(user).await?,
    })
}

/// Starts a fresh session for `user`, signed in by `amr` (a new id on every login, so no
/// fixation), and returns the cookie value.
pub async fn start_session(
    context: &Context,
    user: &crate::id::UserId,
    amr: &str,
    now: Timestamp,
) -> Result<OpaqueToken, OAuthError> {
    let token = OpaqueToken::generate();
    let session = Session {
        user_id: user.clone(),
        auth_time: now,
        amr: amr.to_owned(),
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

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password is wrong.
    #[error("the current password is not right")]
    WrongPassword,
    /// The new password breaks the rules.
    #[error("{0}")]
    Rejected(#[from] crate::user::UserError),
    /// The store or hashing failed.
    #[error(transparent)]
    Failed(#[from] OAuthError),
}

/// Changes a signed-in user's password after checking the current one, and ends every
/// other session of theirs (whoever knew the old password is signed out).
pub async fn change_password(
    context: &Context,
    user: &User,
    current: &str,
    new: &str,
    this_session: &str,
) -> Result<u64, PasswordChangeError> {
    crate::user::validate_password(new)?;
    let Some((_, stored)) = context
        .store
        .find_user_by_username(&user.username)
        .await
        .map_err(OAuthError::from)?
    else {
        return Err(PasswordChangeError::WrongPassword);
    };
    let current = current.to_owned();
    if !run_hashing(move || verify_password(Some(&stored), &current)).await? {
        let now = context.now();
        context
            .audit
            .record(
                AuditEvent::new(AuditKind::LoginFailed, now, &Actor::User(user.id.clone()))
                    .subject(&user.id)
                    .with("reason", "wrong current password at password change"),
            )
            .await;
        return Err(PasswordChangeError::WrongPassword);
    }
    let new = new.to_owned();
    let hashed = run_hashing(move || crate::user::hash_password(&new))
        .await?
        .map_err(OAuthError::internal)?;
    context
        .store
        .set_password_hash(&user.id, &hashed)
        .await
        .map_err(OAuthError::from)?;
    let keep = context.hasher.hash_token(&OpaqueToken::presented(this_session));
    let ended = context
        .store
        .delete_user_sessions(&user.id, Some(&keep))
        .await
        .map_err(OAuthError::from)?;
    let now = context.now();
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::PasswordChanged, now, &Actor::User(user.id.clone()))
                .subject(&user.id)
                .with("other_sessions_ended", ended),
        )
        .await;
    Ok(ended)
}

/// Ends every session of `user`, this one included ("sign out everywhere").
pub async fn end_all_sessions(context: &Context, user: &crate::id::UserId) -> Result<u64, OAuthError> {
    let ended = context.store.delete_user_sessions(user, None).await?;
    let now = context.now();
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::SessionsEnded, now, &Actor::User(user.clone()))
                .subject(user)
                .with("sessions", ended),
        )
        .await;
    Ok(ended)
}
