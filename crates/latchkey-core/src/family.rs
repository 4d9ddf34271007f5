//! Token families: one authorization (a user's consent to a client) and everything issued
//! from it — the authorization code, each refresh token in its rotation chain, and their
//! access tokens. Revoking the family revokes them all (RFC 6749 §4.1.2, RFC 9700 §4.14).

use crate::clock::Timestamp;
use crate::id::{ClientId, FamilyId, UserId};
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::SecretHash;

/// One authorization and its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its id.
    pub id: FamilyId,
    /// The client it was granted to.
    pub client_id: ClientId,
    /// The user who granted it.
    pub user_id: UserId,
    /// The scopes granted.
    pub scopes: ScopeSet,
    /// When the user authenticated (ID token `auth_time`).
    pub auth_time: Timestamp,
    /// How they authenticated: RFC 8176 `amr` values, space-separated (`pwd`, or
    /// `pwd otp mfa` after a second step).
    pub amr: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// The absolute end of its refresh tokens.
    pub expires_at: Timestamp,
    /// Whether it has been revoked.
    pub revoked: bool,
}

/// An authorization code as stored (the code itself only as a hash).
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    /// The keyed hash of the code.
    pub hash: SecretHash,
    /// Its family.
    pub family_id: FamilyId,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` (then the token request must).
    pub redirect_given: bool,
    /// The PKCE challenge, if the request had one.
    pub code_challenge: Option<CodeChallenge>,
    /// The OpenID `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// The outcome of redeeming a code: exactly one caller ever sees `Redeemed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is spent and the refresh token given with it is stored.
    Redeemed,
    /// Used before: the caller revokes the family.
    Replayed(FamilyId),
    /// Unknown, expired, or its grant revoked.
    Invalid,
}

/// A refresh token as stored.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    /// The keyed hash of the token.
    pub hash: SecretHash,
    /// Its family.
    pub family_id: FamilyId,
    /// Its scopes (a refresh may narrow them).
    pub scopes: ScopeSet,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it expires if unused.
    pub idle_expires_at: Timestamp,
}

/// The outcome of rotating a refresh token into its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// First use: this caller rotated it and the successor is stored. `family_revoked`
    /// says the grant was revoked meanwhile (the successor is then dead on arrival).
    Fresh {
        /// The grant was revoked before the rotation.
        family_revoked: bool,
    },
    /// Already rotated (a concurrent refresh, a retry, or a replay); nothing was stored.
    AlreadyRotated {
        /// When it was rotated.
        at: Timestamp,
        /// The grant is revoked.
        family_revoked: bool,
    },
    /// Unknown.
    Invalid,
}

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who is logged in.
    pub user_id: UserId,
    /// When they last entered their password.
    pub auth_time: Timestamp,
    /// How they signed in: RFC 8176 `amr` values, space-separated.
    pub amr: String,
    /// When the session ends.
    pub expires_at: Timestamp,
}
