//! Integration tests: a real Latchkey server started in-process on 127.0.0.1:0 over a
//! temporary SQLite file, and a small notes API protected by this crate, driven with
//! reqwest.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test support code outside #[test] functions: a failed step is a failed test"
)]

mod introspection;
mod local;
mod support;
