//! The authorization-request validator (RFC 6749 §4.1.1, §4.1.2.1, §3.1.2; RFC 7636;
//! RFC 9700 §2.1, §4.1): never panics; an accepted request has a registered redirect URI,
//! scopes within the client's, PKCE for public code-flow clients and only grants the
//! client is registered for; an error is redirected only to a registered redirect URI.
#![no_main]

use latchkey_core::authorize::{AuthorizationRequest, AuthorizeError, ResponseType};
use latchkey_core::client::GrantType;
use latchkey_core::params::Params;
use latchkey_fuzz::{clients, portless};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://issuer.example";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, form)) = data.split_first() else { return };
    let client = &clients()[usize::from(pick) % 3];
    let Ok(params) = Params::from_form(form) else { return };
    match AuthorizationRequest::for_client(client.clone(), &params, ISSUER) {
        Ok(request) => {
            assert!(client.redirect_uris.iter().any(|r| r.matches(&request.redirect_uri)));
            assert!(request.scopes.is_subset_of(&client.scopes));
            let grant = match request.response_type {
                ResponseType::Code => GrantType::AuthorizationCode,
                _ => GrantType::Implicit,
            };
            assert!(client.allows(grant));
            if request.response_type == ResponseType::Code && client.is_public() {
                assert!(request.code_challenge.is_some(), "public client without PKCE");
            }
            if request.response_type != ResponseType::Code {
                assert!(request.nonce.is_some() || request.response_type == ResponseType::Token);
            }
        }
        Err(AuthorizeError::Redirect(url)) => {
            let registered = client.redirect_uris.iter().any(|r| {
                url.starts_with(r.as_str())
                    || matches!((portless(r.as_str()), portless(&url)), (Some(a), Some(b)) if b.starts_with(&a))
            });
            assert!(registered, "error redirected to an unregistered place: {url}");
            assert!(url.contains("error="), "{url}");
            assert!(url.contains("iss="), "RFC 9207: {url}");
        }
        Err(_) => {}
    }
});
