//! Latchkey's core: the OAuth protocol rules, the domain types and the storage traits.
//!
//! Nothing here knows about HTTP or SQL. The server crate turns requests into the parsed
//! types of this crate and calls one service function per endpoint; the store crate
//! implements the traits of [`store`] once per database.

pub mod audit;
pub mod authorize;
pub mod client;
pub mod client_auth;
pub mod clock;
pub mod context;
pub mod device;
pub mod device_flow;
pub mod discovery;
pub mod doctor;
pub mod error;
pub mod family;
pub mod federation;
pub mod grant;
pub mod grants;
pub mod id;
pub mod keys;
pub mod login;
pub mod mfa;
pub mod params;
pub mod passkey;
pub mod pkce;
pub mod ratelimit;
pub mod registry;
pub mod roles;
pub mod scope;
pub mod secret;
pub mod store;
pub mod token;
pub mod ttl_cache;
pub mod user;
pub mod userinfo;
pub mod webauthn;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use context::{AuthConfig, Context};
pub use error::{OAuthError, StoreError};
