//! The relying-party side of WebAuthn (W3C Web Authentication Level 3): checking a new
//! credential at registration (§7.1) and an assertion at sign-in (§7.2). Plain functions
//! over bytes, no I/O: the ceremonies' state (the challenge) and the stored credentials
//! are the caller's.
//!
//! Attestation is not asked for (`attestation: "none"`) and not relied on: any format is
//! accepted at registration and its statement ignored, since Latchkey makes no decision on
//! an authenticator's make or model. Keys may be ES256 (P-256), EdDSA (Ed25519) or RS256;
//! signatures are checked with aws-lc-rs.

pub mod cbor;
#[cfg(any(test, feature = "testing"))]
pub mod soft;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::Deserialize;

use cbor::Value;

/// COSE algorithm ES256 (ECDSA with P-256 and SHA-256).
pub const ES256: i64 = -7;
/// COSE algorithm EdDSA (Ed25519 here).
pub const EDDSA: i64 = -8;
/// COSE algorithm RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const RS256: i64 = -257;
/// The algorithms offered in `pubKeyCredParams`, most preferred first.
pub const ALGORITHMS: [i64; 3] = [ES256, EDDSA, RS256];
/// The longest credential id the spec allows (§5.8.3 and §6.5.2).
pub const MAX_CREDENTIAL_ID: usize = 1023;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;
const FLAG_ED: u8 = 0x80;

/// Why a registration or assertion was refused. The messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    /// Bytes that are not what a browser and authenticator produce.
    #[error("the passkey response is malformed: {0}")]
    Malformed(&'static str),
    /// `clientDataJSON.type` is for the other ceremony.
    #[error("the passkey response is for another kind of request")]
    WrongType,
    /// The challenge is not the one this ceremony issued.
    #[error("the passkey response answers another challenge")]
    WrongChallenge,
    /// Made on another site, or in a cross-origin frame.
    #[error("the passkey response was made for another site")]
    WrongOrigin,
    /// The authenticator scoped it to another relying party id.
    #[error("the passkey belongs to another site")]
    WrongRpId,
    /// The authenticator did not test for the user's presence.
    #[error("the authenticator did not confirm you were present")]
    UserNotPresent,
    /// User verification (PIN, biometrics) was required and not done.
    #[error("the authenticator did not verify you (PIN or biometrics)")]
    UserNotVerified,
    /// A key type or algorithm this server does not accept.
    #[error("this kind of passkey is not supported")]
    UnsupportedKey,
    /// The signature does not verify with the stored key.
    #[error("the passkey signature is not valid")]
    BadSignature,
    /// The signature counter did not increase: the authenticator may have been cloned.
    #[error("the passkey's signature counter went backwards; it may have been copied")]
    CounterWentBack,
}

/// The relying party: this server, named by its issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP id: the issuer's host.
    pub id: String,
    /// The one origin ceremonies may come from: the issuer's scheme, host and port.
    pub origin: String,
}

impl RelyingParty {
    /// The relying party of an issuer URL.
    pub fn for_issuer(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let id = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Some(Self {
            id,
            origin: url.origin().ascii_serialization(),
        })
    }

    fn id_hash(&self) -> [u8; 32] {
        sha256(self.id.as_bytes())
    }
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
    #[serde(rename = "topOrigin", default)]
    top_origin: Option<String>,
}

/// §7.1 steps 5–12 / §7.2 steps 7–14: the client data names this ceremony, this challenge
/// and our origin, from a top-level page.
fn check_client_data(
    rp: &RelyingParty,
    json: &[u8],
    kind: &str,
    challenge: &[u8],
) -> Result<(), WebAuthnError> {
    let data: ClientData =
        serde_json::from_slice(json).map_err(|_| WebAuthnError::Malformed("clientDataJSON"))?;
    if data.kind != kind {
        return Err(WebAuthnError::WrongType);
    }
    let presented = crate::secret::b64_decode(&data.challenge).ok_or(WebAuthnError::WrongChallenge)?;
    if !crate::secret::constant_time_eq(&presented, challenge) {
        return Err(WebAuthnError::WrongChallenge);
    }
    if data.origin != rp.origin || data.cross_origin || data.top_origin.is_some() {
        return Err(WebAuthnError::WrongOrigin);
    }
    Ok(())
}

/// The fixed part of authenticator data (§6.1).
struct AuthData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    sign_count: u32,
    rest: &'a [u8],
}

fn parse_auth_data(bytes: &[u8]) -> Result<AuthData<'_>, WebAuthnError> {
    let malformed = WebAuthnError::Malformed("authenticator data");
    let (rp_id_hash, rest) = bytes.split_at_checked(32).ok_or(malformed.clone())?;
    let (&flags, rest) = rest.split_first().ok_or(malformed.clone())?;
    let (count, rest) = rest.split_at_checked(4).ok_or(malformed.clone())?;
    let sign_count = u32::from_be_bytes(<[u8; 4]>::try_from(count).map_err(|_| malformed)?);
    Ok(AuthData {
        rp_id_hash,
        flags,
        sign_count,
        rest,
    })
}

/// The checks every ceremony makes on authenticator data: our RP id, the user present,
/// verified if required, and consistent backup flags.
fn check_auth_data(rp: &RelyingParty, data: &AuthData<'_>, require_uv: bool) -> Result<(), WebAuthnError> {
    if !crate::secret::constant_time_eq(data.rp_id_hash, &rp.id_hash()) {
        return Err(WebAuthnError::WrongRpId);
    }
    if data.flags & FLAG_UP == 0 {
        return Err(WebAuthnError::UserNotPresent);
    }
    if require_uv && data.flags & FLAG_UV == 0 {
        return Err(WebAuthnError::UserNotVerified);
    }
    if data.flags & FLAG_BE == 0 && data.flags & FLAG_BS != 0 {
        return Err(WebAuthnError::Malformed("backed up but not backup-eligible"));
    }
    Ok(())
}

/// A credential public key (a COSE_Key, RFC 9052 §7 and RFC 9053).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256, as an uncompressed SEC1 point.
    Es256(Vec<u8>),
    /// Ed25519.
    Ed25519(Vec<u8>),
    /// RSA modulus and exponent.
    Rs256 {
        /// Modulus, big-endian.
        n: Vec<u8>,
        /// Exponent, big-endian.
        e: Vec<u8>,
    },
}

impl PublicKey {
    /// Parses a COSE key of a supported type.
    pub fn from_cose(cose: &[u8]) -> Result<Self, WebAuthnError> {
        let key = cbor::decode(cose).map_err(|_| WebAuthnError::Malformed("credential public key"))?;
        Self::from_value(&key)
    }

    fn from_value(key: &Value) -> Result<Self, WebAuthnError> {
        let int = |label| key.get_int(label).and_then(Value::as_int);
        let bytes = |label| key.get_int(label).and_then(Value::as_bytes);
        let (kty, alg) = (int(1), int(3));
        match (kty, alg) {
            // EC2, ES256, crv P-256 (1), x (-2) and y (-3) of 32 bytes each.
            (Some(2), Some(-7)) if int(-1) == Some(1) => match (bytes(-2), bytes(-3)) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = vec![0x04];
                    point.extend_from_slice(x);
                    point.extend_from_slice(y);
                    Ok(Self::Es256(point))
                }
                _ => Err(WebAuthnError::Malformed("P-256 coordinates")),
            },
            // OKP, EdDSA, crv Ed25519 (6), x (-2) of 32 bytes.
            (Some(1), Some(-8)) if int(-1) == Some(6) => match bytes(-2) {
                Some(x) if x.len() == 32 => Ok(Self::Ed25519(x.to_vec())),
                _ => Err(WebAuthnError::Malformed("Ed25519 key")),
            },
            // RSA, RS256, n (-1) of 2048 bits or more and e (-2).
            (Some(3), Some(-257)) => match (bytes(-1), bytes(-2)) {
                (Some(n), Some(e)) if n.len() >= 256 && n.len() <= 1024 && !e.is_empty() && e.len() <= 8 => {
                    Ok(Self::Rs256 {
                        n: n.to_vec(),
                        e: e.to_vec(),
                    })
                }
                _ => Err(WebAuthnError::Malformed("RSA key")),
            },
            _ => Err(WebAuthnError::UnsupportedKey),
        }
    }

    /// The COSE algorithm.
    pub fn algorithm(&self) -> i64 {
        match self {
            Self::Es256(_) => ES256,
            Self::Ed25519(_) => EDDSA,
            Self::Rs256 { .. } => RS256,
        }
    }

    /// Checks `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebAuthnError> {
        let checked = match self {
            Self::Es256(point) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(message, signature)
            }
            Self::Ed25519(x) => UnparsedPublicKey::new(&ED25519, x).verify(message, signature),
            Self::Rs256 { n, e } => {
                RsaPublicKeyComponents { n, e }.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
            }
        };
        checked.map_err(|_| WebAuthnError::BadSignature)
    }
}

/// A credential that passed registration, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// The credential id.
    pub id: Vec<u8>,
    /// The COSE public key, as the authenticator sent it.
    pub public_key: Vec<u8>,
    /// Its COSE algorithm.
    pub algorithm: i64,
    /// The signature counter (0 if the authenticator keeps none).
    pub sign_count: u32,
    /// The authenticator model (all zero for most passkeys).
    pub aaguid: [u8; 16],
    /// Whether the user was verified (PIN or biometrics).
    pub user_verified: bool,
    /// Whether it may be synced (a multi-device passkey).
    pub backup_eligible: bool,
}

/// Registration (§7.1): `client_data_json` and `attestation_object` as the browser gave
/// them, checked against the challenge this ceremony issued.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    require_uv: bool,
) -> Result<NewCredential, WebAuthnError> {
    check_client_data(rp, client_data_json, "webauthn.create", challenge)?;
    let attestation =
        cbor::decode(attestation_object).map_err(|_| WebAuthnError::Malformed("attestation object"))?;
    let fmt = attestation
        .get_text("fmt")
        .and_then(Value::as_text)
        .ok_or(WebAuthnError::Malformed("attestation format"))?;
    let statement = attestation
        .get_text("attStmt")
        .ok_or(WebAuthnError::Malformed("attestation statement"))?;
    // "none" must carry an empty statement (§8.7); other formats are not relied on.
    if fmt == "none" && *statement != Value::Map(Vec::new()) {
        return Err(WebAuthnError::Malformed(
            "a \"none\" attestation with a statement",
        ));
    }
    let auth_bytes = attestation
        .get_text("authData")
        .and_then(Value::as_bytes)
        .ok_or(WebAuthnError::Malformed("authenticator data"))?;
    let data = parse_auth_data(auth_bytes)?;
    check_auth_data(rp, &data, require_uv)?;
    if data.flags & FLAG_AT == 0 {
        return Err(WebAuthnError::Malformed("no attested credential data"));
    }
    // Attested credential data (§6.5.2): AAGUID, id length, id, COSE key, then extensions.
    let malformed = || WebAuthnError::Malformed("attested credential data");
    let (aaguid, rest) = data.rest.split_at_checked(16).ok_or_else(malformed)?;
    let (length, rest) = rest.split_at_checked(2).ok_or_else(malformed)?;
    let length = usize::from(u16::from_be_bytes(
        <[u8; 2]>::try_from(length).map_err(|_| malformed())?,
    ));
    if length == 0 || length > MAX_CREDENTIAL_ID {
        return Err(WebAuthnError::Malformed("credential id length"));
    }
    let (id, rest) = rest.split_at_checked(length).ok_or_else(malformed)?;
    let (key, used) =
        cbor::decode_prefix(rest).map_err(|_| WebAuthnError::Malformed("credential public key"))?;
    let (cose, extensions) = rest.split_at_checked(used).ok_or_else(malformed)?;
    let has_extensions = data.flags & FLAG_ED != 0;
    if has_extensions == extensions.is_empty() {
        return Err(WebAuthnError::Malformed("extension data"));
    }
    if has_extensions {
        cbor::decode(extensions).map_err(|_| WebAuthnError::Malformed("extension data"))?;
    }
    let public_key = PublicKey::from_value(&key)?;
    Ok(NewCredential {
        id: id.to_vec(),
        public_key: cose.to_vec(),
        algorithm: public_key.algorithm(),
        sign_count: data.sign_count,
        aaguid: <[u8; 16]>::try_from(aaguid).map_err(|_| malformed())?,
        user_verified: data.flags & FLAG_UV != 0,
        backup_eligible: data.flags & FLAG_BE != 0,
    })
}

/// An assertion as the browser gave it (`PublicKeyCredential` with an
/// `AuthenticatorAssertionResponse`).
#[derive(Debug, Clone, Default)]
pub struct Assertion {
    /// The credential's id (`rawId`).
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `signature`.
    pub signature: Vec<u8>,
    /// `userHandle`, if the authenticator returned one.
    pub user_handle: Option<Vec<u8>>,
}

/// What an accepted assertion says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The new signature counter, to store.
    pub sign_count: u32,
    /// Whether the user was verified.
    pub user_verified: bool,
}

/// Authentication (§7.2): `assertion` against the challenge this ceremony issued and the
/// stored credential (`public_key` and the last `stored_count`). The caller has already
/// matched the credential id and user handle to the stored credential.
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    assertion: &Assertion,
    public_key: &[u8],
    stored_count: u32,
    require_uv: bool,
) -> Result<Verified, WebAuthnError> {
    check_client_data(rp, &assertion.client_data_json, "webauthn.get", challenge)?;
    let data = parse_auth_data(&assertion.authenticator_data)?;
    check_auth_data(rp, &data, require_uv)?;
    let key = PublicKey::from_cose(public_key)?;
    let mut signed = assertion.authenticator_data.clone();
    signed.extend_from_slice(&sha256(&assertion.client_data_json));
    key.verify(&signed, &assertion.signature)?;
    // §7.2 step 22: a counter that does not grow (when either side counts) means a clone.
    if (data.sign_count != 0 || stored_count != 0) && data.sign_count <= stored_count {
        return Err(WebAuthnError::CounterWentBack);
    }
    Ok(Verified {
        sign_count: data.sign_count,
        user_verified: data.flags & FLAG_UV != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::soft::{Authenticator, KeyKind};
    use super::*;

    fn rp() -> RelyingParty {
        RelyingParty::for_issuer("https://login.example.com").unwrap()
    }

    const CHALLENGE: [u8; 32] = [7; 32];

    #[test]
    fn relying_party_from_issuer() {
        assert_eq!(
            RelyingParty::for_issuer("https://login.example.com/tenant"),
            Some(RelyingParty {
                id: "login.example.com".into(),
                origin: "https://login.example.com".into()
            })
        );
        let local = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        assert_eq!(
            (local.id.as_str(), local.origin.as_str()),
            ("localhost", "http://localhost:8080")
        );
    }

    #[test]
    fn each_key_kind_registers_and_signs_in() {
        for kind in [KeyKind::Es256, KeyKind::Ed25519, KeyKind::Rs256] {
            let mut device = Authenticator::new(kind, &rp());
            let (client_data, attestation) = device.create(&CHALLENGE, &rp().origin);
            let credential =
                verify_registration(&rp(), &CHALLENGE, &client_data, &attestation, true).unwrap();
            assert_eq!(credential.id, device.credential_id);
            assert!(credential.user_verified);
            let assertion = device.get(&CHALLENGE, &rp().origin, b"user");
            let verified = verify_assertion(
                &rp(),
                &CHALLENGE,
                &assertion,
                &credential.public_key,
                credential.sign_count,
                true,
            )
            .unwrap();
            assert_eq!(verified.sign_count, credential.sign_count + 1);
        }
    }

    #[test]
    fn registration_refusals() {
        let mut device = Authenticator::new(KeyKind::Es256, &rp());
        let (client_data, attestation) = device.create(&CHALLENGE, &rp().origin);
        let check = |cd: &[u8], att: &[u8], uv: bool| verify_registration(&rp(), &CHALLENGE, cd, att, uv);
        assert_eq!(
            verify_registration(&rp(), &[8; 32], &client_data, &attestation, false),
            Err(WebAuthnError::WrongChallenge)
        );
        let (evil, _) = device.create(&CHALLENGE, "https://login.example.com.evil.test");
        assert_eq!(check(&evil, &attestation, false), Err(WebAuthnError::WrongOrigin));
        let other_rp = RelyingParty::for_issuer("https://evil.test").unwrap();
        let mut phished = Authenticator::new(KeyKind::Es256, &other_rp);
        let (_, wrong_rp) = phished.create(&CHALLENGE, &rp().origin);
        assert_eq!(
            check(&client_data, &wrong_rp, false),
            Err(WebAuthnError::WrongRpId)
        );
        device.user_verified = false;
        let (cd, att) = device.create(&CHALLENGE, &rp().origin);
        assert_eq!(check(&cd, &att, true), Err(WebAuthnError::UserNotVerified));
        assert!(check(&cd, &att, false).is_ok());
        device.user_present = false;
        let (cd, att) = device.create(&CHALLENGE, &rp().origin);
        assert_eq!(check(&cd, &att, false), Err(WebAuthnError::UserNotPresent));
        // An assertion's client data cannot register.
        let get = device.get(&CHALLENGE, &rp().origin, b"user");
        assert_eq!(
            check(&get.client_data_json, &attestation, false),
            Err(WebAuthnError::WrongType)
        );
        // Cross-origin iframes are refused.
        let framed = br#"{"type":"webauthn.create","challenge":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc","origin":"https://login.example.com","crossOrigin":true}"#;
        assert_eq!(
            check(framed, &attestation, false),
            Err(WebAuthnError::WrongOrigin)
        );
        for junk in [
            &b""[..],
            b"\xa0",
            b"\xa1\x63fmt\x64none",
            &attestation[..attestation.len() - 3],
        ] {
            assert!(
                matches!(check(&client_data, junk, false), Err(WebAuthnError::Malformed(_))),
                "{junk:02x?}"
            );
        }
    }

    #[test]
    fn assertion_refusals() {
        let mut device = Authenticator::new(KeyKind::Es256, &rp());
        let (cd, att) = device.create(&CHALLENGE, &rp().origin);
        let credential = verify_registration(&rp(), &CHALLENGE, &cd, &att, false).unwrap();
        let key = &credential.public_key;
        let good = device.get(&CHALLENGE, &rp().origin, b"user");
        assert!(verify_assertion(&rp(), &CHALLENGE, &good, key, 0, true).is_ok());
        // Replayed to a server that has seen its counter: refused as a clone.
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &good, key, good_count(&good), false),
            Err(WebAuthnError::CounterWentBack)
        );
        assert_eq!(
            verify_assertion(&rp(), &[9; 32], &good, key, 0, false),
            Err(WebAuthnError::WrongChallenge)
        );
        let mut tampered = good.clone();
        if let Some(last) = tampered.signature.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &tampered, key, 0, false),
            Err(WebAuthnError::BadSignature)
        );
        // Another key's signature does not verify with this credential.
        let mut other = Authenticator::new(KeyKind::Es256, &rp());
        let foreign = other.get(&CHALLENGE, &rp().origin, b"user");
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &foreign, key, 0, false),
            Err(WebAuthnError::BadSignature)
        );
        let phishing = device.get(&CHALLENGE, "https://evil.test", b"user");
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &phishing, key, 0, false),
            Err(WebAuthnError::WrongOrigin)
        );
        device.user_verified = false;
        let no_uv = device.get(&CHALLENGE, &rp().origin, b"user");
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &no_uv, key, 0, true),
            Err(WebAuthnError::UserNotVerified)
        );
        assert!(verify_assertion(&rp(), &CHALLENGE, &no_uv, key, 0, false).is_ok());
        let (create_data, _) = device.create(&CHALLENGE, &rp().origin);
        let wrong_type = Assertion {
            client_data_json: create_data,
            ..good
        };
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &wrong_type, key, 0, false),
            Err(WebAuthnError::WrongType)
        );
    }

    fn good_count(assertion: &Assertion) -> u32 {
        parse_auth_data(&assertion.authenticator_data).unwrap().sign_count
    }

    #[test]
    fn cose_keys_of_other_kinds_are_refused() {
        // EC2 on P-384 (crv 2) with ES384 (-35).
        let p384 = cbor::encode(&Value::Map(vec![
            (Value::Int(1), Value::Int(2)),
            (Value::Int(3), Value::Int(-35)),
            (Value::Int(-1), Value::Int(2)),
            (Value::Int(-2), Value::Bytes(vec![1; 48])),
            (Value::Int(-3), Value::Bytes(vec![1; 48])),
        ]));
        assert_eq!(PublicKey::from_cose(&p384), Err(WebAuthnError::UnsupportedKey));
        // ES256 claimed with short coordinates.
        let short = cbor::encode(&Value::Map(vec![
            (Value::Int(1), Value::Int(2)),
            (Value::Int(3), Value::Int(-7)),
            (Value::Int(-1), Value::Int(1)),
            (Value::Int(-2), Value::Bytes(vec![1; 31])),
            (Value::Int(-3), Value::Bytes(vec![1; 32])),
        ]));
        assert!(matches!(
            PublicKey::from_cose(&short),
            Err(WebAuthnError::Malformed(_))
        ));
    }
}
