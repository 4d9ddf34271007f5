//! One module per endpoint.

pub(crate) mod account;
pub(crate) mod assets;
pub(crate) mod authorize;
pub(crate) mod device;
pub(crate) mod discovery;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod login;
pub(crate) mod metrics;
pub(crate) mod passkeys;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod upstream;
pub(crate) mod userinfo;
