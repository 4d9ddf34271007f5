//! Test support: a running server, registered clients, and an independent JWT check.

mod browser;
mod jwt;
mod server;

pub(crate) use browser::{Browser, Page, redirect_params};
pub(crate) use jwt::{decode_part, verify_es256_against_jwks};
pub(crate) use server::{Registered, TestServer, assert_oauth_error};
