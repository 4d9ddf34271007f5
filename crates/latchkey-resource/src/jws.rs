//! Signature checks for the other JWTs an issuer signs, such as the ID tokens it gives a
//! client (OpenID Connect Core §3.1.3.7): a server that signs its users in through an
//! upstream issuer checks them against that issuer's JWK Set, then checks the claims
//! itself.

use serde::Deserialize;

use crate::error::TokenError;
use crate::jwt::{Compact, b64url_decode, split};
use crate::keys::{Algorithm, parse_jwks};

/// Longest token looked at.
const MAX_LEN: usize = 16 * 1024;

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Verifies a compact JWS signed with ES256 or RS256 by a key of the JWK Set `jwks` (a
/// JSON document), and returns its claims. Only the signature is checked: issuer,
/// audience, lifetime and nonce are the caller's. `alg: none`, HMAC, unknown `kid`s, a key
/// of another algorithm, `crit` headers and access tokens (`typ: at+jwt`) are refused.
pub fn verify_signed(
    token: &str,
    jwks: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    let Compact {
        header,
        payload,
        signature,
        signing_input,
    } = split(token, MAX_LEN)?;
    let header: Header = b64url_decode(header)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    let alg = Algorithm::from_name(&header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
    if header.crit.is_some()
        || header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
    {
        return Err(TokenError::WrongType);
    }
    let keys = parse_jwks(jwks).map_err(|_| TokenError::UnknownKey)?;
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.get(kid))
        .ok_or(TokenError::UnknownKey)?;
    if key.alg != alg {
        return Err(TokenError::AlgorithmMismatch);
    }
    let signature = b64url_decode(signature).ok_or(TokenError::BadSignature)?;
    if !key.verifies(signing_input.as_bytes(), &signature) {
        return Err(TokenError::BadSignature);
    }
    b64url_decode(payload)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fixtures::TestKey;

    fn jwks(keys: &[&TestKey]) -> Vec<u8> {
        json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_signed_id_token_verifies_and_forgeries_do_not() {
        let rsa = TestKey::rs256("r1");
        let other = TestKey::es256("e9");
        let set = jwks(&[&rsa]);
        let claims = json!({"iss": "https://up.example", "sub": "u1", "aud": "c1", "nonce": "n"});
        let id_token = rsa.sign(&json!({"alg": "RS256", "typ": "JWT", "kid": "r1"}), &claims);
        assert_eq!(verify_signed(&id_token, &set).unwrap()["sub"], "u1");
        let untyped = rsa.sign(&json!({"alg": "RS256", "kid": "r1"}), &claims);
        assert!(verify_signed(&untyped, &set).is_ok());
        // Another key under our kid, alg none, an access token, a tampered payload.
        let foreign = other.sign(&json!({"alg": "ES256", "kid": "r1"}), &claims);
        assert!(verify_signed(&foreign, &set).is_err());
        let none = format!(
            "{}.",
            crate::fixtures::signing_input(&json!({"alg": "none", "kid": "r1"}), &claims)
        );
        assert_eq!(verify_signed(&none, &set), Err(TokenError::UnsupportedAlgorithm));
        let access = rsa.sign(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "r1"}), &claims);
        assert_eq!(verify_signed(&access, &set), Err(TokenError::WrongType));
        let mut parts: Vec<&str> = id_token.split('.').collect();
        let forged_payload = crate::fixtures::b64(json!({"sub": "admin"}).to_string().as_bytes());
        parts[1] = &forged_payload;
        assert_eq!(
            verify_signed(&parts.join("."), &set),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify_signed(&id_token, b"not json"), Err(TokenError::UnknownKey));
    }
}
