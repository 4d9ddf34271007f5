//! The `latchkey` binary's library half: settings, start-up and the admin commands, so
//! integration tests can start the real server in-process.

pub mod app;
pub mod cli;
pub mod config;
pub mod master_key;
