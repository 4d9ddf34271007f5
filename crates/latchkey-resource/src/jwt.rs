//! RFC 9068 JWT access tokens: the compact JWS (RFC 7515) is split and its header read
//! into an [`Unverified`] token; only [`Unverified::verify`] yields claims, after the
//! signature and then `iss`, `aud`, `exp` and `nbf` have been checked.
//!
//! Nothing in the header but `kid` chooses anything: `jku`, `x5u` and `jwk` are ignored (a
//! token must never bring its own key), and the header's `alg` must equal the named key's.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::claims::{AccessClaims, Audience, split_scopes};
use crate::error::TokenError;
use crate::keys::{Algorithm, VerificationKey};

/// The longest token we will even try to parse; Latchkey's are under 1 KiB.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The JOSE `typ` values of an access token (RFC 9068 §2.1), compared ignoring case.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub(crate) struct Expectations {
    /// `iss`, compared exactly.
    pub(crate) issuer: String,
    /// Must be in `aud`.
    pub(crate) audience: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub(crate) leeway: i64,
    /// The claim naming the user's roles.
    pub(crate) roles_claim: String,
}

impl Expectations {
    /// RFC 7519 §4.1.4/§4.1.5: now must be before `exp` and not before `nbf`, give or take
    /// the leeway.
    pub(crate) fn check_lifetime(&self, exp: i64, nbf: Option<i64>, now: i64) -> Result<(), TokenError> {
        if now >= exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        if nbf.is_some_and(|nbf| now.saturating_add(self.leeway) < nbf) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// Strict base64url without padding, as JWS uses (RFC 7515 §2).
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// The claims RFC 9068 §2.2 requires, plus `nbf` and `scope`.
#[derive(Deserialize)]
struct Payload {
    iss: String,
    sub: String,
    aud: Audience,
    client_id: String,
    exp: i64,
    iat: i64,
    jti: String,
    nbf: Option<i64>,
    scope: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// A token whose header has been read but whose signature has not been checked. Its only
/// use is to say which key to fetch and then to be verified.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    alg: Algorithm,
    kid: String,
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// The parts of a compact JWS (RFC 7515 §7.1), still base64url-encoded.
pub(crate) struct Compact<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`, what the signature covers.
    pub(crate) signing_input: &'a str,
}

/// Splits a compact JWS of at most `max_len` bytes into its three parts.
pub(crate) fn split(token: &str, max_len: usize) -> Result<Compact<'_>, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(TokenError::Malformed)?;
    Ok(Compact {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Splits `token` and checks its header: `alg` is ES256 or RS256, `typ` is `at+jwt`, no
/// `crit`, and a `kid` is named.
pub(crate) fn parse(token: &str) -> Result<Unverified<'_>, TokenError> {
    let Compact {
        header,
        payload,
        signature,
        signing_input,
    } = split(token, MAX_TOKEN_LEN)?;
    let header: Header = b64url_decode(header)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    // `none`, `HS256` (a public key used as an HMAC secret) and everything else stop here.
    let alg = Algorithm::from_name(&header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        ACCESS_TOKEN_TYPES
            .iter()
            .any(|want| typ.eq_ignore_ascii_case(want))
    });
    // RFC 7515 §4.1.11: a `crit` extension we do not understand makes the token invalid.
    if !typ_ok || header.crit.is_some() {
        return Err(TokenError::WrongType);
    }
    let kid = header.kid.ok_or(TokenError::UnknownKey)?;
    Ok(Unverified {
        alg,
        kid,
        signing_input,
        payload,
        signature,
    })
}

impl Unverified<'_> {
    /// The `kid` the header names.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Checks the signature with `key`, then the claims; returns them.
    pub(crate) fn verify(
        self,
        key: &VerificationKey,
        expect: &Expectations,
        now: i64,
    ) -> Result<AccessClaims, TokenError> {
        if key.alg != self.alg {
            return Err(TokenError::AlgorithmMismatch);
        }
        let signature = b64url_decode(self.signature).ok_or(TokenError::BadSignature)?;
        if !key.verifies(self.signing_input.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        let payload: Payload = b64url_decode(self.payload)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if payload.iss != expect.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if !payload.aud.contains(&expect.audience) {
            return Err(TokenError::WrongAudience);
        }
        expect.check_lifetime(payload.exp, payload.nbf, now)?;
        Ok(AccessClaims {
            issuer: payload.iss,
            subject: payload.sub,
            audience: payload.aud.into_vec(),
            client_id: payload.client_id,
            scopes: split_scopes(payload.scope.as_deref()),
            jti: Some(payload.jti),
            expires_at: payload.exp,
            issued_at: Some(payload.iat),
            not_before: payload.nbf,
            roles: crate::claims::string_list(&payload.other, &expect.roles_claim),
        })
    }
}
