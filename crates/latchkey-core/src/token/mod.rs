//! Tokens: JWS signing and verification, RFC 9068 access tokens, introspection (RFC 7662)
//! and revocation (RFC 7009).

pub mod access;
pub mod id_token;
pub mod introspection;
pub mod jws;
pub mod revocation;
