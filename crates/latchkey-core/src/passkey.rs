//! Passkeys (WebAuthn): registered from the account page, then used either as the second
//! step after a password or upstream sign-in, or on their own (passwordless, which needs
//! the authenticator to verify the user, so it counts as two factors).
//!
//! Each ceremony's challenge is 256 random bits, sealed with its purpose, user and
//! deadline into a cookie (no server state until it is answered), and spent in the store
//! when answered, so an assertion or registration can never be replayed, not even within
//! the 5 minutes.

use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::UserId;
use crate::secret::{OpaqueToken, b64, b64_decode, random_bytes};
use crate::store::Passkey;
use crate::user::User;
use crate::webauthn::{self, Assertion, RelyingParty, WebAuthnError};

/// How long a ceremony may take.
pub const CEREMONY_SECS: i64 = 300;
/// The most passkeys one account may hold.
pub const MAX_PASSKEYS: usize = 20;
/// The longest passkey name kept.
pub const MAX_NAME: usize = 64;
const CEREMONY_AAD: &[u8] = b"latchkey webauthn ceremony v1";

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey to a signed-in account.
    Register,
    /// Signing in with a passkey alone (user verification required).
    SignIn,
    /// The second step after a first factor.
    SecondStep,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign-in",
            Self::SecondStep => "second-step",
        }
    }
}

/// Why a passkey was not accepted. The messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyRefusal {
    /// The ceremony cookie is missing, expired, for something else, or already used.
    #[error("this passkey request has expired or was already used; try again")]
    Expired,
    /// The browser's response failed a WebAuthn check.
    #[error("{0}")]
    Invalid(#[from] WebAuthnError),
    /// No such passkey here, or not this account's.
    #[error("this passkey is not registered for this account")]
    Unknown,
    /// The credential is registered already.
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    /// The account holds the most passkeys it may.
    #[error("you have {MAX_PASSKEYS} passkeys already; remove one first")]
    TooMany,
    /// Removing it would leave no way to sign in.
    #[error(
        "that is the only way you can sign in: add a password, another passkey or a linked identity first"
    )]
    LastWayIn,
}

/// A ceremony in progress, as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// What it is for.
    pub purpose: Purpose,
    /// The account it is for (none for a passwordless sign-in).
    pub user: Option<UserId>,
    /// The challenge.
    pub challenge: [u8; 32],
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl Ceremony {
    /// The challenge, base64url (as the page and `clientDataJSON` carry it).
    pub fn challenge_b64(&self) -> String {
        b64(&self.challenge)
    }
}

/// The relying party this server is (from its issuer).
pub fn relying_party(context: &Context) -> Result<RelyingParty, OAuthError> {
    RelyingParty::for_issuer(&context.config.issuer).ok_or_else(|| OAuthError::internal(NoRelyingParty))
}

#[derive(Debug, thiserror::Error)]
#[error("the issuer URL has no host to be a WebAuthn relying party id")]
struct NoRelyingParty;

/// The WebAuthn user handle of an account: opaque, fixed-length, not personal data.
pub fn user_handle(user: &UserId) -> [u8; 32] {
    let mut input = b"latchkey user handle\0".to_vec();
    input.extend_from_slice(user.as_str().as_bytes());
    webauthn::sha256(&input)
}

/// Starts a ceremony: the state and the sealed cookie value that carries it.
pub fn begin(
    context: &Context,
    purpose: Purpose,
    user: Option<&UserId>,
    now: Timestamp,
) -> (Ceremony, String) {
    let ceremony = Ceremony {
        purpose,
        user: user.cloned(),
        challenge: random_bytes::<32>(),
        expires_at: Timestamp::from_secs(now.as_secs() + CEREMONY_SECS),
    };
    let plain = format!(
        "{}|{}|{}|{}",
        ceremony.expires_at.as_secs(),
        purpose.tag(),
        ceremony.challenge_b64(),
        user.map(UserId::as_str).unwrap_or_default()
    );
    let cookie = b64(&context.mfa_sealer.seal(CEREMONY_AAD, plain.as_bytes()));
    (ceremony, cookie)
}

/// The ceremony a cookie carries, if it is ours, for `purpose`, and not past its deadline.
pub fn open(context: &Context, cookie: &str, purpose: Purpose, now: Timestamp) -> Option<Ceremony> {
    if cookie.len() > 512 {
        return None;
    }
    let plain = context.mfa_sealer.open(CEREMONY_AAD, &b64_decode(cookie)?).ok()?;
    let plain = String::from_utf8(plain).ok()?;
    let mut parts = plain.splitn(4, '|');
    let expires_at = Timestamp::from_secs(parts.next()?.parse().ok()?);
    let tag = parts.next()?;
    let challenge = <[u8; 32]>::try_from(b64_decode(parts.next()?)?).ok()?;
    let user = parts.next()?;
    (tag == purpose.tag() && now < expires_at).then(|| Ceremony {
        purpose,
        user: (!user.is_empty()).then(|| UserId::new(user)),
        challenge,
        expires_at,
    })
}

/// Spends a ceremony's challenge: `false` if it was answered before.
async fn spend(context: &Context, ceremony: &Ceremony, now: Timestamp) -> Result<bool, OAuthError> {
    let hash = context
        .hasher
        .hash_token(&OpaqueToken::presented(&ceremony.challenge_b64()));
    Ok(context
        .store
        .spend_challenge(&hash, ceremony.expires_at, now)
        .await?)
}

/// A passkey name as typed, cleaned: control characters dropped, trimmed, at most
/// [`MAX_NAME`] characters, "Passkey" if nothing is left.
pub fn clean_name(typed: &str) -> String {
    let name: String = typed
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect::<String>()
        .trim()
        .to_owned();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    }
}

/// Finishes adding a passkey to `user`'s account from the browser's response.
pub async fn register(
    context: &Context,
    user: &User,
    cookie: &str,
    name: &str,
    client_data_json: &[u8],
    attestation_object: &[u8],
    now: Timestamp,
) -> Result<Result<Passkey, PasskeyRefusal>, OAuthError> {
    let Some(ceremony) =
        open(context, cookie, Purpose::Register, now).filter(|c| c.user.as_ref() == Some(&user.id))
    else {
        return Ok(Err(PasskeyRefusal::Expired));
    };
    let rp = relying_party(context)?;
    let credential = match webauthn::verify_registration(
        &rp,
        &ceremony.challenge,
        client_data_json,
        attestation_object,
        false,
    ) {
        Ok(credential) => credential,
        Err(error) => return Ok(Err(error.into())),
    };
    if context.store.list_passkeys(&user.id).await?.len() >= MAX_PASSKEYS {
        return Ok(Err(PasskeyRefusal::TooMany));
    }
    if !spend(context, &ceremony, now).await? {
        return Ok(Err(PasskeyRefusal::Expired));
    }
    let passkey = Passkey {
        credential_id: credential.id,
        user_id: user.id.clone(),
        name: clean_name(name),
        public_key: credential.public_key,
        algorithm: credential.algorithm,
        sign_count: credential.sign_count,
        backup_eligible: credential.backup_eligible,
        created_at: now,
        last_used_at: None,
    };
    if !context.store.add_passkey(&passkey).await? {
        return Ok(Err(PasskeyRefusal::AlreadyRegistered));
    }
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::PasskeyAdded, now, &Actor::User(user.id.clone()))
                .subject(&user.id)
                .with("name", passkey.name.clone()),
        )
        .await;
    Ok(Ok(passkey))
}

/// RFC 8176 `amr` of a passkey: `hwk` for a key bound to one device, `swk` for one that
/// may be synced between devices.
pub fn key_amr(passkey: &Passkey) -> &'static str {
    if passkey.backup_eligible { "swk" } else { "hwk" }
}

/// Checks an assertion for a sign-in (`Purpose::SignIn`, any account, user verification
/// required) or a second step (`Purpose::SecondStep` for `expected`'s account). Returns
/// the account and the passkey used.
pub async fn authenticate(
    context: &Context,
    cookie: &str,
    purpose: Purpose,
    expected: Option<&UserId>,
    assertion: &Assertion,
    now: Timestamp,
) -> Result<Result<Passkey, PasskeyRefusal>, OAuthError> {
    let outcome = check_assertion(context, cookie, purpose, expected, assertion, now).await?;
    let event = match (&outcome, expected) {
        (Ok(passkey), _) => {
            AuditEvent::new(AuditKind::PasskeyUsed, now, &Actor::User(passkey.user_id.clone()))
                .subject(&passkey.user_id)
                .with("name", passkey.name.clone())
        }
        (Err(refusal), Some(user)) => AuditEvent::new(AuditKind::PasskeyFailed, now, &Actor::Anonymous)
            .subject(user)
            .with("reason", refusal.to_string()),
        (Err(refusal), None) => AuditEvent::new(AuditKind::PasskeyFailed, now, &Actor::Anonymous)
            .with("reason", refusal.to_string()),
    };
    context.audit.record(event).await;
    Ok(outcome)
}

async fn check_assertion(
    context: &Context,
    cookie: &str,
    purpose: Purpose,
    expected: Option<&UserId>,
    assertion: &Assertion,
    now: Timestamp,
) -> Result<Result<Passkey, PasskeyRefusal>, OAuthError> {
    let Some(ceremony) = open(context, cookie, purpose, now).filter(|c| c.user.as_ref() == expected) else {
        return Ok(Err(PasskeyRefusal::Expired));
    };
    if assertion.credential_id.is_empty() || assertion.credential_id.len() > webauthn::MAX_CREDENTIAL_ID {
        return Ok(Err(PasskeyRefusal::Unknown));
    }
    let Some(passkey) = context.store.find_passkey(&assertion.credential_id).await? else {
        return Ok(Err(PasskeyRefusal::Unknown));
    };
    if expected.is_some_and(|user| *user != passkey.user_id) {
        return Ok(Err(PasskeyRefusal::Unknown));
    }
    // §7.2 step 6: the user handle, when given, names the credential's owner; without a
    // user named beforehand (passwordless), it must be given.
    let handle = user_handle(&passkey.user_id);
    match &assertion.user_handle {
        Some(given) if !crate::secret::constant_time_eq(given, &handle) => {
            return Ok(Err(PasskeyRefusal::Unknown));
        }
        None if purpose == Purpose::SignIn => return Ok(Err(PasskeyRefusal::Unknown)),
        _ => {}
    }
    let rp = relying_party(context)?;
    let require_uv = purpose == Purpose::SignIn;
    let verified = match webauthn::verify_assertion(
        &rp,
        &ceremony.challenge,
        assertion,
        &passkey.public_key,
        passkey.sign_count,
        require_uv,
    ) {
        Ok(verified) => verified,
        Err(error) => return Ok(Err(error.into())),
    };
    if !spend(context, &ceremony, now).await? {
        return Ok(Err(PasskeyRefusal::Expired));
    }
    if !context
        .store
        .use_passkey(&passkey.credential_id, verified.sign_count, now)
        .await?
    {
        return Ok(Err(WebAuthnError::CounterWentBack.into()));
    }
    Ok(Ok(Passkey {
        sign_count: verified.sign_count,
        last_used_at: Some(now),
        ..passkey
    }))
}

/// Removes one of `user`'s passkeys, unless it is their last way to sign in.
pub async fn remove(
    context: &Context,
    user: &UserId,
    credential_id: &[u8],
    now: Timestamp,
) -> Result<Result<(), PasskeyRefusal>, OAuthError> {
    let ways = crate::login::ways_in(context, user).await?;
    if !ways.passkeys.iter().any(|p| p.credential_id == credential_id) {
        return Ok(Err(PasskeyRefusal::Unknown));
    }
    if ways.count() <= 1 {
        return Ok(Err(PasskeyRefusal::LastWayIn));
    }
    if context.store.delete_passkey(user, credential_id).await? {
        context
            .audit
            .record(AuditEvent::new(AuditKind::PasskeyRemoved, now, &Actor::User(user.clone())).subject(user))
            .await;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("  Laptop\u{0}\n  "), "Laptop");
        assert_eq!(clean_name(""), "Passkey");
        assert_eq!(clean_name(&"x".repeat(200)).len(), MAX_NAME);
    }

    #[test]
    fn user_handles_are_opaque_and_stable() {
        let a = user_handle(&UserId::new("alice"));
        assert_eq!(a, user_handle(&UserId::new("alice")));
        assert_ne!(a, user_handle(&UserId::new("bob")));
        assert!(!a.windows(5).any(|w| w == b"alice"));
    }
}
