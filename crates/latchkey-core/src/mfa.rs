//! Two-step sign-in with a time-based one-time password (TOTP, RFC 6238: HMAC-SHA-1,
//! 30-second steps, 6 digits, as every authenticator app expects) and single-use recovery
//! codes.
//!
//! The shared secret is sealed at rest (AES-256-GCM under a key derived from the master
//! key, the user id as associated data); recovery codes are stored as keyed hashes. A code
//! is accepted for the current step and one step either side (clock drift), and each step
//! only once per user (RFC 6238 §5.2): the store keeps the last step used.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::hmac;

use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::UserId;
use crate::secret::{MasterKey, random_bytes};

/// Seconds per TOTP step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;
/// `amr` for a password (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` for a one-time password (RFC 8176).
pub const AMR_OTP: &str = "otp";
/// `amr` for two factors (RFC 8176).
pub const AMR_MFA: &str = "mfa";
/// The `acr` of a sign-in with a password only.
pub const ACR_PASSWORD: &str = "urn:latchkey:acr:pwd";
/// The `acr` of a two-step sign-in; ask for it with `acr_values`.
pub const ACR_MFA: &str = "urn:latchkey:acr:mfa";

/// A TOTP shared secret (160 bits, RFC 4226 §4's recommendation).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        Self(random_bytes::<20>().to_vec())
    }

    /// From raw bytes (tests, and a secret just opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Base32 without padding, as authenticator apps take it.
    pub fn base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The code for `step` (RFC 6238 §4, RFC 4226 §5.3 dynamic truncation).
    pub fn code_at_step(&self, step: i64) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac.last().copied().unwrap_or_default() & 0x0f);
        let word = mac
            .get(offset..offset + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_be_bytes(b) & 0x7fff_ffff)
            .unwrap_or_default();
        word % 10u32.pow(DIGITS)
    }

    /// The step `code` matches at `now` (this step or one either side), if any. Compared
    /// without early exit.
    pub fn matching_step(&self, code: &str, now: Timestamp) -> Option<i64> {
        let code = code.trim().replace(' ', "");
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.as_secs().div_euclid(STEP_SECS);
        let mut found = None;
        for step in [current - 1, current, current + 1] {
            let expected = format!("{:0width$}", self.code_at_step(step), width = DIGITS as usize);
            if crate::secret::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI an authenticator app scans.
    pub fn otpauth_uri(&self, issuer_label: &str, username: &str) -> String {
        let enc = |text: &str| {
            url::form_urlencoded::byte_serialize(text.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            enc(issuer_label),
            enc(username),
            self.base32(),
            enc(issuer_label)
        )
    }
}

/// RFC 4648 base32, no padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let symbol = |index: u32| char::from(ALPHABET.get(index as usize).copied().unwrap_or(b'A'));
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol((buffer >> bits) & 31));
        }
    }
    if bits > 0 {
        out.push(symbol((buffer << (5 - bits)) & 31));
    }
    out
}

/// Seals TOTP secrets at rest.
pub struct SecretSealer(RandomizedNonceKey);

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSealer")
    }
}

/// A sealed secret would not open (another master key, tampering, or another user's row).
#[derive(Debug, thiserror::Error)]
#[error("a stored second-factor secret could not be decrypted")]
pub struct UnsealError;

impl SecretSealer {
    /// The sealer for this master key.
    pub fn new(master: &MasterKey) -> Self {
        // A 32-byte derived key always suits AES-256-GCM.
        #[allow(clippy::expect_used)]
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, &master.derive("latchkey totp v1")).expect("a 32-byte key");
        Self(key)
    }

    /// `nonce || ciphertext || tag`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buffer = plain.to_vec();
        match self.0.seal_in_place_append_tag(Aad::from(aad), &mut buffer) {
            Ok(nonce) => {
                let mut out = nonce.as_ref().to_vec();
                out.extend_from_slice(&buffer);
                out
            }
            Err(_) => Vec::new(),
        }
    }

    /// Opens what [`SecretSealer::seal`] produced for the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, UnsealError> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(UnsealError)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| UnsealError)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| UnsealError)?;
        Ok(plain.to_vec())
    }

    /// A TOTP secret sealed to its user.
    pub fn seal_secret(&self, user: &UserId, secret: &TotpSecret) -> Vec<u8> {
        self.seal(user.as_str().as_bytes(), &secret.0)
    }

    /// A TOTP secret sealed by [`SecretSealer::seal_secret`] for the same user.
    pub fn open_secret(&self, user: &UserId, sealed: &[u8]) -> Result<TotpSecret, UnsealError> {
        self.open(user.as_str().as_bytes(), sealed).map(TotpSecret)
    }
}

/// Ten new recovery codes, `xxxxx-xxxxx` from an unambiguous 31-letter alphabet (49
/// bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = random_bytes::<10>();
            let letter = |b: &u8| char::from(ALPHABET.get(usize::from(b % 31)).copied().unwrap_or(b'a'));
            let (first, second) = bytes.split_at(5);
            format!(
                "{}-{}",
                first.iter().map(letter).collect::<String>(),
                second.iter().map(letter).collect::<String>()
            )
        })
        .collect()
}

/// A typed recovery code, normalized (case, spaces and dashes do not matter).
pub fn normalize_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// How long the second step of a sign-in may wait for its code.
pub const CHALLENGE_SECS: i64 = 300;
const CHALLENGE_AAD: &[u8] = b"latchkey login challenge v1";

/// Whether `user` has an authenticator app enrolled (a confirmed TOTP secret).
pub async fn has_totp(context: &Context, user: &UserId) -> Result<bool, OAuthError> {
    Ok(context.store.find_totp(user).await?.is_some_and(|t| t.confirmed))
}

/// Whether `user` has a second factor: an authenticator app or a passkey.
pub async fn has_second_factor(context: &Context, user: &UserId) -> Result<bool, OAuthError> {
    Ok(has_totp(context, user).await? || !context.store.list_passkeys(user).await?.is_empty())
}

/// The value of the cookie that carries a half-done sign-in (first factor checked, second
/// awaited): the user id, how the first step was done (`amr`) and a deadline, sealed and
/// authenticated, so it holds no secret and cannot be forged or extended.
pub fn challenge(context: &Context, user: &UserId, first_amr: &str, now: Timestamp) -> String {
    let plain = format!(
        "{}|{}|{}",
        (now.as_secs() + CHALLENGE_SECS),
        first_amr,
        user.as_str()
    );
    crate::secret::b64(&context.mfa_sealer.seal(CHALLENGE_AAD, plain.as_bytes()))
}

/// The user a challenge cookie names and how their first step was done, if it is ours and
/// not past its deadline.
pub fn open_challenge(context: &Context, value: &str, now: Timestamp) -> Option<(UserId, String)> {
    if value.len() > 512 {
        return None;
    }
    let sealed = crate::secret::b64_decode(value)?;
    let plain = String::from_utf8(context.mfa_sealer.open(CHALLENGE_AAD, &sealed).ok()?).ok()?;
    let (deadline, rest) = plain.split_once('|')?;
    let (first_amr, user) = rest.split_once('|')?;
    (now.as_secs() < deadline.parse::<i64>().ok()?).then(|| (UserId::new(user), first_amr.to_owned()))
}

/// Checks a typed second-factor code for `user`: a TOTP code (each 30-second step once)
/// or an unused recovery code (then spent). Returns the session's `amr` (after
/// `first_amr`, the first step's) on success.
pub async fn verify(
    context: &Context,
    user: &UserId,
    first_amr: &str,
    typed: &str,
    now: Timestamp,
) -> Result<Option<String>, OAuthError> {
    let Some(credential) = context.store.find_totp(user).await?.filter(|t| t.confirmed) else {
        return Ok(None);
    };
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let accepted = if digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()) {
        let secret = context
            .mfa_sealer
            .open_secret(user, &credential.sealed_secret)
            .map_err(OAuthError::internal)?;
        match secret.matching_step(&digits, now) {
            Some(step) => context.store.use_totp_step(user, step).await?.then_some(AMR_OTP),
            None => None,
        }
    } else {
        let normalized = normalize_recovery_code(typed);
        if normalized.is_empty() || normalized.len() > 32 {
            None
        } else {
            let hash = context
                .hasher
                .hash_token(&crate::secret::OpaqueToken::presented(&normalized));
            context
                .store
                .use_recovery_code(user, &hash, now)
                .await?
                .then_some("rc")
        }
    };
    let kind = if accepted.is_some() {
        AuditKind::MfaSucceeded
    } else {
        AuditKind::MfaFailed
    };
    context
        .audit
        .record(AuditEvent::new(kind, now, &Actor::User(user.clone())).subject(user))
        .await;
    Ok(accepted.map(|method| second_step_amr(first_amr, method)))
}

/// The `amr` of a two-step sign-in: the first step's, the second's, and `mfa`.
pub fn second_step_amr(first_amr: &str, method: &str) -> String {
    format!("{first_amr} {method} {AMR_MFA}")
}

/// Starts enrolling a TOTP app for `user`: a new secret, to show once as a QR code and
/// text. `None` if a confirmed one exists (remove it first).
pub async fn begin_enrolment(
    context: &Context,
    user: &UserId,
    now: Timestamp,
) -> Result<Option<TotpSecret>, OAuthError> {
    let secret = TotpSecret::generate();
    let sealed = context.mfa_sealer.seal_secret(user, &secret);
    Ok(context
        .store
        .begin_totp(user, &sealed, now)
        .await?
        .then_some(secret))
}

/// The secret of an enrolment in progress, to show again.
pub async fn pending_secret(context: &Context, user: &UserId) -> Result<Option<TotpSecret>, OAuthError> {
    match context.store.find_totp(user).await? {
        Some(t) if !t.confirmed => Ok(context.mfa_sealer.open_secret(user, &t.sealed_secret).ok()),
        _ => Ok(None),
    }
}

/// Finishes an enrolment with a code from the app; returns the recovery codes (shown
/// once, stored as keyed hashes), or `None` if the code is wrong.
pub async fn confirm_enrolment(
    context: &Context,
    user: &UserId,
    code: &str,
    now: Timestamp,
) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(secret) = pending_secret(context, user).await? else {
        return Ok(None);
    };
    let Some(step) = secret.matching_step(code, now) else {
        return Ok(None);
    };
    if !context.store.use_totp_step(user, step).await? {
        return Ok(None);
    }
    let codes = new_recovery_codes();
    let hashes: Vec<_> = codes
        .iter()
        .map(|c| {
            context
                .hasher
                .hash_token(&crate::secret::OpaqueToken::presented(&normalize_recovery_code(
                    c,
                )))
        })
        .collect();
    context.store.replace_recovery_codes(user, &hashes).await?;
    context
        .audit
        .record(AuditEvent::new(AuditKind::MfaEnrolled, now, &Actor::User(user.clone())).subject(user))
        .await;
    Ok(Some(codes))
}

/// Removes `user`'s second factor and recovery codes.
pub async fn remove(
    context: &Context,
    user: &UserId,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, OAuthError> {
    let removed = context.store.delete_totp(user).await?;
    if removed {
        context
            .audit
            .record(AuditEvent::new(AuditKind::MfaRemoved, now, actor).subject(user))
            .await;
    }
    Ok(removed)
}

/// Removes every second factor of `user` (authenticator app, recovery codes and
/// passkeys), for an operator helping someone who lost them all; `false` if there were
/// none.
pub async fn reset(
    context: &Context,
    user: &UserId,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, OAuthError> {
    let totp = context.store.delete_totp(user).await?;
    let passkeys = context.store.delete_passkeys(user).await?;
    if totp || passkeys > 0 {
        context
            .audit
            .record(
                AuditEvent::new(AuditKind::MfaRemoved, now, actor)
                    .subject(user)
                    .with("passkeys", passkeys),
            )
            .await;
    }
    Ok(totp || passkeys > 0)
}

/// The `acr` of a session or grant with these `amr` values.
pub fn acr(amr: &str) -> &'static str {
    if amr.split(' ').any(|m| m == AMR_MFA) {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        // RFC 6238 Appendix B, SHA-1 secret "12345678901234567890", 8 digits there; the
        // 6-digit code is the same value modulo 10^6.
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, eight) in [
            (59, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(
                secret.code_at_step(time / STEP_SECS),
                eight % 1_000_000,
                "t={time}"
            );
        }
    }

    #[test]
    fn codes_match_one_step_either_side_and_nothing_else() {
        let secret = TotpSecret::generate();
        let now = Timestamp::from_secs(1_700_000_015);
        let step = 1_700_000_015 / STEP_SECS;
        let code = |s: i64| format!("{:06}", secret.code_at_step(s));
        assert_eq!(secret.matching_step(&code(step), now), Some(step));
        assert_eq!(secret.matching_step(&code(step - 1), now), Some(step - 1));
        assert_eq!(secret.matching_step(&code(step + 1), now), Some(step + 1));
        let window = [code(step - 1), code(step), code(step + 1)];
        if !window.contains(&code(step - 2)) {
            assert_eq!(secret.matching_step(&code(step - 2), now), None, "two steps back");
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32_encode(b""), "");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32_encode(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn secrets_seal_to_their_user() {
        let sealer = SecretSealer::new(&MasterKey::generate());
        let secret = TotpSecret::generate();
        let sealed = sealer.seal_secret(&UserId::new("u1"), &secret);
        assert_eq!(sealer.open_secret(&UserId::new("u1"), &sealed).ok(), Some(secret));
        assert!(sealer.open_secret(&UserId::new("u2"), &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(normalize_recovery_code(" ABCDE-fghjk "), "abcdefghjk");
    }
}
