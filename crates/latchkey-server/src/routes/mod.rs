//! One module per endpoint.

pub(crate) mod discovery;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod revoke;
pub(crate) mod token;
