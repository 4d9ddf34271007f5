//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` would let anyone who sees the
//! authorization request redeem the code, so it is refused and never advertised.

use aws_lc_rs::{constant_time, digest};

use crate::error::OAuthError;
use crate::secret::b64;

/// A validated S256 code challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

fn is_unreserved(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` from an authorization request.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Option<Self>, OAuthError> {
        match (challenge, method) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            )),
            (Some(_), None | Some("plain")) => Err(OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not supported",
            )),
            (Some(_), Some(method)) if method != "S256" => {
                Err(OAuthError::invalid_request("code_challenge_method must be S256"))
            }
            (Some(challenge), Some(_)) => {
                // base64url of a SHA-256 digest: exactly 43 characters.
                if challenge.len() != 43 || !is_unreserved(challenge) {
                    return Err(OAuthError::invalid_request(
                        "code_challenge must be the 43-character base64url SHA-256 of the verifier",
                    ));
                }
                Ok(Some(Self(challenge.to_owned())))
            }
        }
    }

    /// Wraps a challenge read back from storage.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` (RFC 7636 §4.1: 43-128 unreserved characters) matches.
    pub fn is_satisfied_by(&self, verifier: &str) -> bool {
        if !(43..=128).contains(&verifier.len()) || !is_unreserved(verifier) {
            return false;
        }
        let computed = b64(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
        constant_time::verify_slices_are_equal(computed.as_bytes(), self.0.as_bytes()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).ok().flatten();
        let challenge = challenge.unwrap_or_else(|| CodeChallenge::from_stored(String::new()));
        assert!(challenge.is_satisfied_by(VERIFIER));
        assert!(!challenge.is_satisfied_by(&VERIFIER.replace('d', "e")));
        assert!(!challenge.is_satisfied_by("short"));
    }

    #[test]
    fn plain_missing_methods_and_malformed_challenges_are_refused() {
        assert!(CodeChallenge::parse(Some(CHALLENGE), None).is_err());
        assert!(CodeChallenge::parse(Some(CHALLENGE), Some("plain")).is_err());
        assert!(CodeChallenge::parse(Some(CHALLENGE), Some("s256")).is_err());
        assert!(CodeChallenge::parse(Some("abc"), Some("S256")).is_err());
        assert!(CodeChallenge::parse(None, Some("S256")).is_err());
        assert!(matches!(CodeChallenge::parse(None, None), Ok(None)));
    }
}
