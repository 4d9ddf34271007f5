//! Protect an axum (or any tower) API with Latchkey access tokens.
//!
//! A [`LatchkeyAuth`] verifies RFC 9068 JWT access tokens against the issuer's published
//! keys, found through OpenID Connect discovery and cached; optionally it also asks the
//! issuer's RFC 7662 introspection endpoint whether each token is still active. Routes
//! declare the scope they need next to themselves, with the [`RequireScope`] extractor or
//! the [`RequireScopeLayer`], and handlers read the token's [`AccessClaims`] through
//! [`Verified`]. Refused requests are answered as RFC 6750 §3 says:
//!
//! | request | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no Bearer token | 401 | `Bearer realm="..."` |
//! | bad, expired or revoked token | 401 | `Bearer realm="...", error="invalid_token", error_description="..."` |
//! | token without the scope | 403 | `Bearer realm="...", error="insufficient_scope", error_description="...", scope="notes:write"` |
//! | malformed `Authorization`, two tokens, a token in the query or a form body | 400 | `Bearer realm="...", error="invalid_request", ...` |
//! | issuer unreachable when it had to be asked | 503 | none |
//!
//! with a JSON body `{"error": "...", "error_description": "..."}` and `Cache-Control:
//! no-store`.
//!
//! # Example
//!
//! ```no_run
//! use axum::Json;
//! use axum::Router;
//! use axum::routing::get;
//! use latchkey_resource::{LatchkeyAuth, RequireScope, Verified, scope};
//! use serde_json::{Value, json};
//!
//! scope! {
//!     NotesRead = "notes:read";
//!     NotesWrite = "notes:write";
//! }
//!
//! /// Any valid token.
//! async fn whoami(claims: Verified) -> Json<Value> {
//!     Json(json!({"sub": claims.subject, "client_id": claims.client_id, "scope": claims.scopes}))
//! }
//!
//! /// Only tokens granted `notes:read`.
//! async fn list_notes(claims: RequireScope<NotesRead>) -> Json<Value> {
//!     Json(json!({"owner": claims.subject, "notes": []}))
//! }
//!
//! /// Only tokens granted `notes:write`.
//! async fn create_note(claims: RequireScope<NotesWrite>) -> Json<Value> {
//!     Json(json!({"created_by": claims.subject}))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Once, at startup: fetches the discovery document and the JWKS.
//!     let auth = LatchkeyAuth::discover("https://id.example.com", "https://notes.example.com").await?;
//!     let app = Router::new()
//!         .route("/me", get(whoami))
//!         .route("/notes", get(list_notes).post(create_note))
//!         // The extractors find the verifier in the state (see `extract` for a larger state).
//!         .with_state(auth);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! The same with layers, for services that keep another state or are plain tower
//! services; the claims are then in the request extensions:
//!
//! ```no_run
//! use axum::handler::Handler as _;
//! use axum::routing::get;
//! use axum::{Extension, Router};
//! use latchkey_resource::{LatchkeyAuth, Verified};
//!
//! async fn list_notes(Extension(claims): Extension<Verified>) -> String {
//!     format!("notes of {}", claims.subject)
//! }
//!
//! async fn create_note(Extension(claims): Extension<Verified>) -> String {
//!     format!("created by {}", claims.subject)
//! }
//!
//! # async fn example() -> Result<(), latchkey_resource::DiscoveryError> {
//! let auth = LatchkeyAuth::discover("https://id.example.com", "https://notes.example.com").await?;
//! let app: Router = Router::new().route(
//!     "/notes",
//!     get(list_notes.layer(auth.require_scope("notes:read")))
//!         .post(create_note.layer(auth.require_scope("notes:write"))),
//! );
//! # Ok(()) }
//! ```
//!
//! # Choices worth knowing
//!
//! - **Local or introspection.** Local verification costs no request per token but cannot
//!   see a revocation before the token expires (Latchkey: 15 minutes).
//!   [`AuthBuilder::introspection`] adds an RFC 7662 check, cached for 5 s by default,
//!   after the local checks (so forged tokens never reach the issuer).
//! - **Keys.** Only ES256 and RS256 keys whose JWK names its `alg` are used, and a token's
//!   header must name the same `alg` as its key: `none` and `HS256` never verify. A token
//!   naming an unknown `kid` triggers at most one JWKS fetch per 30 s
//!   ([`AuthBuilder::jwks_refetch_interval`]); the set is also refreshed after 5 minutes
//!   ([`AuthBuilder::jwks_max_age`]) so withdrawn keys stop verifying.
//! - **Cost.** A full ES256 verification is bounded by the signature check (about 65 µs on
//!   a 2.3 GHz server core); a token seen before is served from a bounded cache keyed by
//!   its SHA-256 for about 1 µs, with `exp` checked again and the entry dropped whenever
//!   the JWKS is fetched again ([`AuthBuilder::verified_cache_capacity`]).
//! - **Audience.** Tokens must list this API's identifier in `aud`. Latchkey does not yet
//!   support RFC 8707 resource indicators, so all its tokens carry the server's one
//!   `--default-audience`: give each API its own scopes.
//! - **Time.** `exp` and `nbf` are checked with 60 s of leeway ([`AuthBuilder::leeway`]),
//!   against an injectable [`Clock`].
//! - **TLS.** This crate brings no TLS backend: see [`AuthBuilder::http_client`].
#![warn(missing_docs)]

mod auth;
mod bearer;
mod claims;
mod clock;
mod discovery;
mod error;
pub mod extract;
#[cfg(test)]
mod fixtures;
mod introspection;
mod jws;
mod jwt;
mod keys;
mod layer;
mod verified_cache;

pub use auth::{AuthBuilder, LatchkeyAuth};
pub use claims::{AccessClaims, Verified};
pub use clock::{Clock, SystemClock};
pub use discovery::JwksProvider;
pub use error::{AuthError, AuthFailure, DiscoveryError, TokenError};
pub use extract::{RequireScope, Scope};
pub use jws::verify_signed;
pub use layer::{RequireScopeLayer, RequireScopeService};
