//! Users (resource owners) and their passwords: argon2id with OWASP's parameters, run off
//! the async executor, and the same work whether or not the user exists.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::clock::Timestamp;
use crate::id::UserId;
use crate::secret::random_bytes;

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The stable id, the `sub` claim.
    pub id: UserId,
    /// The login name as typed at creation; unique ignoring case.
    pub username: String,
    /// E-mail address, released with the `email` scope.
    pub email: Option<String>,
    /// Display name, released with the `profile` scope.
    pub name: Option<String>,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// Why a username, password or profile field was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    /// Bad username.
    #[error("usernames are 1 to 64 characters: letters, digits, '.', '_', '-' and '@'")]
    Username,
    /// Bad password.
    #[error("passwords must be 8 to 1024 characters")]
    Password,
    /// Bad e-mail or name.
    #[error("{0}")]
    Profile(&'static str),
}

impl User {
    /// The key usernames are unique by: lowercase.
    pub fn username_key(username: &str) -> String {
        username.to_lowercase()
    }
}

/// Checks a username for creation.
pub fn validate_username(username: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_@".contains(c));
    ok.then_some(()).ok_or(UserError::Username)
}

/// Checks a new password (NIST SP 800-63B: length, not composition rules).
pub fn validate_password(password: &str) -> Result<(), UserError> {
    (8..=1024)
        .contains(&password.chars().count())
        .then_some(())
        .ok_or(UserError::Password)
}

/// Checks optional profile fields.
pub fn validate_profile(email: Option<&str>, name: Option<&str>) -> Result<(), UserError> {
    if let Some(email) = email {
        let valid = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(UserError::Profile("the e-mail address is not valid"));
        }
    }
    if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control))
    {
        return Err(UserError::Profile(
            "the name must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

/// argon2id, OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())?;
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// The stored password hash of an account that has none (it signs in through an upstream
/// provider): never a valid PHC string, so no password matches it.
pub const NO_PASSWORD: &str = "!";

/// Verifies a password against a PHC string. With `None` (an unknown user) or
/// [`NO_PASSWORD`] it verifies against a fixed dummy hash and returns `false`, so either
/// costs the same time as a wrong password. CPU-heavy: call from a blocking thread.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        // An account without a password (signed up through an upstream provider) costs
        // the same work as any other.
        if let Ok(dummy) = PasswordHash::new(dummy) {
            let _ = argon2().verify_password(password.as_bytes(), &dummy);
        }
        return false;
    };
    argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(Some(&phc), "correct horse"));
        assert!(!verify_password(Some(&phc), "Correct horse"));
        assert!(
            !verify_password(None, "not a real password"),
            "the dummy never matches"
        );
        assert!(!verify_password(Some("garbage"), "x"));
    }

    #[test]
    fn usernames_passwords_and_profiles_are_validated() {
        assert!(validate_username("alice.smith@example").is_ok());
        for bad in ["", "a b", "a<b", &"x".repeat(65)] {
            assert_eq!(validate_username(bad), Err(UserError::Username), "{bad}");
        }
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("short").is_err());
        assert!(validate_profile(Some("a@b.example"), Some("Alice")).is_ok());
        assert!(validate_profile(Some("nope"), None).is_err());
        assert!(validate_profile(None, Some(" ")).is_err());
        assert_eq!(User::username_key("Alice"), "alice");
    }
}
