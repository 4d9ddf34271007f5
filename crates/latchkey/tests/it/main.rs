//! The integration test binary: the real server on an ephemeral port, a temporary SQLite
//! file, and HTTP from real client libraries (`oauth2`) and raw reqwest.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support code outside #[test] functions: a failed step is a failed test"
)]

mod account;
mod admin;
mod audit;
mod authorize;
mod cli;
mod device;
mod discovery;
mod disk;
mod durability;
mod errors;
mod federation;
mod flow;
mod introspect;
mod keys;
mod login;
mod metrics;
mod mfa;
mod multinode;
mod passkeys;
mod refresh;
mod revoke;
mod roles;
mod security_browser;
mod security_clients;
mod security_codes;
mod security_headers;
mod security_injection;
mod security_jwt;
mod security_leakage;
mod security_limits;
mod security_params;
mod security_races;
mod security_redirects;
mod support;
mod token;
