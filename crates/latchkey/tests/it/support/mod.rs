//! Test support: a running server, registered clients, and an independent JWT check.

mod browser;
mod jwt;
mod process;
mod proxy;
mod server;

pub(crate) use browser::{Browser, Page, redirect_params};
pub(crate) use jwt::{decode_part, verify_es256_against_jwks};
pub(crate) use process::{Process, free_port, latchkey, serve, wait_until_up};
pub(crate) use proxy::Proxy;
pub(crate) use server::{Backend, Database, Registered, TestServer, assert_oauth_error};

/// Stamps out one test per backend: `sqlite` always, `postgres` when
/// `LATCHKEY_TEST_POSTGRES_URL` is set (and a clear "skipped" line when it is not).
macro_rules! backend_test {
    (async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $backend = $crate::support::Backend::Sqlite;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some($backend) = $crate::support::Backend::postgres() else {
                    eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
                    return;
                };
                $body
            }
        }
    };
}
pub(crate) use backend_test;

/// RFC 4648 base32 (spaces ignored), as authenticator apps take a TOTP key.
pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).unwrap() as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}
