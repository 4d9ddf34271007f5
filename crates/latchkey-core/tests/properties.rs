//! Property tests for the parsers attackers reach first, run with the normal suite (the
//! `cargo fuzz` targets in `fuzz/` check the same invariants coverage-guided, on nightly):
//! scope parsing, redirect-URI registration and matching, request parameters, and JWS
//! verification. None may panic on any input; each must keep its invariants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::authorize::{AuthorizationRequest, AuthorizeError, ResponseType};
use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::id::ClientId;
use latchkey_core::keys::{Algorithm, KeyRing, KeySealer, RotationPolicy};
use latchkey_core::params::Params;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::MasterKey;
use latchkey_core::token::jws::{self, Expect};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn scope_parsing_never_panics_and_round_trips(text in "\\PC{0,80}") {
        if let Ok(set) = ScopeSet::parse(&text) {
            let again = ScopeSet::parse(&set.to_string()).unwrap();
            prop_assert_eq!(again.to_string(), set.to_string());
            for scope in set.iter() {
                prop_assert!(!scope.as_str().contains([' ', '"', '\\']));
                prop_assert!(Scope::parse(scope.as_str()).is_ok());
            }
        }
    }

    #[test]
    fn printable_scope_tokens_are_accepted(token in "[!#-\\[\\]-~]{1,64}") {
        let scope = Scope::parse(&token).unwrap();
        prop_assert_eq!(scope.as_str(), token.as_str());
    }

    #[test]
    fn redirect_uris_never_panic_and_match_only_themselves(
        registered in "https://[a-z]{1,12}\\.example\\.com/[a-z/]{0,12}",
        noise in "\\PC{0,40}",
    ) {
        let _ = RedirectUri::parse(&noise);
        let uri = RedirectUri::parse(&registered).unwrap();
        prop_assert!(uri.matches(&registered));
        let tricked = format!("{registered}{noise}");
        prop_assert_eq!(uri.matches(&tricked), noise.is_empty());
        prop_assert!(!uri.matches(&registered.to_uppercase()) || registered == registered.to_uppercase());
    }

    #[test]
    fn loopback_registrations_accept_any_port_and_nothing_else(port in 1u16.., path in "/[a-z]{0,10}", other in "[a-z]{1,10}") {
        let uri = RedirectUri::parse(&format!("http://127.0.0.1:4000{path}")).unwrap();
        let any_port = format!("http://127.0.0.1:{port}{path}");
        let no_port = format!("http://127.0.0.1{path}");
        let other_path = format!("http://127.0.0.1:{port}{path}/{other}");
        let other_host = format!("http://127.0.0.2:{port}{path}");
        let other_scheme = format!("https://127.0.0.1:{port}{path}");
        prop_assert!(uri.matches(&any_port));
        prop_assert!(uri.matches(&no_port));
        prop_assert!(!uri.matches(&other_path));
        prop_assert!(!uri.matches(&other_host));
        prop_assert!(!uri.matches(&other_scheme));
    }

    #[test]
    fn repeated_parameters_are_always_refused(
        pairs in proptest::collection::vec(("[a-c]{1,2}", "\\PC{0,10}"), 0..8),
    ) {
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let repeated = names.windows(2).any(|w| w[0] == w[1]);
        let parsed = Params::from_pairs(pairs.clone());
        prop_assert_eq!(parsed.is_err(), repeated);
        if let Ok(params) = parsed {
            // An empty value is the parameter omitted (RFC 6749 §3.1).
            for (k, v) in &pairs {
                let expected = Some(v.as_str()).filter(|v| !v.is_empty());
                prop_assert_eq!(params.get(k), expected);
            }
        }
    }

    #[test]
    fn forms_never_panic_and_keep_the_parameter_rules(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(params) = Params::from_form(&body) {
            let pairs: Vec<(&str, &str)> = params.iter().collect();
            for (i, (name, value)) in pairs.iter().enumerate() {
                prop_assert!(!value.is_empty() && !value.contains('\0') && !name.contains('\0'));
                prop_assert!(pairs.iter().skip(i + 1).all(|(other, _)| other != name));
            }
        }
    }

    #[test]
    fn authorization_requests_keep_their_invariants(
        pick in 0usize..3,
        response_type in prop::sample::select(vec!["code", "token", "id_token token", "bogus", ""]),
        redirect in prop::sample::select(vec![
            "", "https://app.example.com/cb", "https://app.example.com/cb/", "http://127.0.0.1:9/cb",
            "http://127.0.0.1:9/cbx", "https://legacy.example.com/cb", "https://evil.example/cb",
        ]),
        scope in "(openid|profile|notes:read|admin|offline_access| ){0,6}",
        challenge in prop::option::of("[A-Za-z0-9_~.-]{43}"),
        method in prop::sample::select(vec!["", "S256", "plain"]),
        extra in "(prompt=none|prompt=login|prompt=consent|max_age=5|max_age=-1|nonce=n|state=s|response_mode=query|response_mode=fragment|&)*",
    ) {
        let client = &clients()[pick];
        let mut form = format!("response_type={}&redirect_uri={redirect}&scope={scope}&code_challenge_method={method}&{extra}",
            response_type.replace(' ', "+"));
        if let Some(challenge) = &challenge {
            form.push_str(&format!("&code_challenge={challenge}"));
        }
        let Ok(params) = Params::from_form(form.as_bytes()) else { return Ok(()) };
        match AuthorizationRequest::for_client(Arc::clone(client), &params, "https://issuer.example") {
            Ok(request) => {
                prop_assert!(client.redirect_uris.iter().any(|r| r.matches(&request.redirect_uri)));
                prop_assert!(request.scopes.is_subset_of(&client.scopes));
                let grant = if request.response_type == ResponseType::Code { GrantType::AuthorizationCode } else { GrantType::Implicit };
                prop_assert!(client.allows(grant));
                if request.response_type == ResponseType::Code && client.is_public() {
                    prop_assert!(request.code_challenge.is_some());
                }
            }
            Err(AuthorizeError::Redirect(url)) => {
                prop_assert!(client.redirect_uris.iter().any(|r| r.matches(url.split(['?', '#']).next().unwrap_or_default())
                    || url.starts_with(&format!("{}?", r.as_str())) || url.starts_with(&format!("{}&", r.as_str()))), "{}", url);
                prop_assert!(url.contains("error=") && url.contains("iss="));
            }
            Err(_) => {}
        }
    }

    #[test]
    fn jws_verification_never_panics_and_never_accepts_noise(token in "\\PC{0,300}", dots in "[A-Za-z0-9_\\-]{0,40}\\.[A-Za-z0-9_\\-]{0,60}\\.[A-Za-z0-9_\\-]{0,90}") {
        let ring = empty_ring();
        let expect = Expect { typs: &["at+jwt"], algs: &[Algorithm::Es256] };
        prop_assert!(jws::verify(&token, &ring, Timestamp::from_secs(1_700_000_000), expect).is_err());
        prop_assert!(jws::verify(&dots, &ring, Timestamp::from_secs(1_700_000_000), expect).is_err());
    }
}

fn empty_ring() -> KeyRing {
    let sealer = Arc::new(KeySealer::new(&MasterKey::generate()).unwrap());
    KeyRing::new(
        sealer,
        RotationPolicy {
            prepublish: Duration::from_secs(3600),
            retention: Duration::from_secs(3600),
        },
    )
}

fn client(id: &str, auth: AuthMethod, grants: &[GrantType], uris: &[&str], scopes: &str) -> Arc<Client> {
    Arc::new(Client {
        id: ClientId::new(id),
        name: id.to_owned(),
        auth_method: auth,
        grant_types: grants.to_vec(),
        redirect_uris: uris.iter().map(|u| RedirectUri::parse(u).unwrap()).collect(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        secret_hash: None,
        created_at: Timestamp::from_secs(1_700_000_000),
        id_token_alg: Algorithm::Rs256,
    })
}

/// A confidential web app, a public native app (loopback) and a legacy implicit client.
fn clients() -> [Arc<Client>; 3] {
    use GrantType::*;
    [
        client(
            "web",
            AuthMethod::ClientSecretBasic,
            &[AuthorizationCode, RefreshToken],
            &[
                "https://app.example.com/cb",
                "https://app.example.com/cb?tenant=1",
            ],
            "openid profile offline_access notes:read",
        ),
        client(
            "native",
            AuthMethod::None,
            &[AuthorizationCode],
            &["http://127.0.0.1:4000/cb"],
            "openid notes:read",
        ),
        client(
            "legacy",
            AuthMethod::None,
            &[Implicit],
            &["https://legacy.example.com/cb"],
            "openid profile",
        ),
    ]
}

#[test]
fn the_generators_reach_acceptance_and_every_kind_of_refusal() {
    let [web, native, _] = clients();
    let parse = |client: &Arc<Client>, form: &str| {
        AuthorizationRequest::for_client(
            Arc::clone(client),
            &Params::from_form(form.as_bytes()).unwrap(),
            "https://i",
        )
    };
    assert!(
        parse(
            &web,
            "response_type=code&scope=openid&redirect_uri=https://app.example.com/cb"
        )
        .is_ok()
    );
    assert!(matches!(
        parse(&native, "response_type=code"),
        Err(AuthorizeError::Redirect(_))
    ));
    assert!(matches!(
        parse(&web, "response_type=code&redirect_uri=https://evil.example/cb"),
        Err(AuthorizeError::Page(_))
    ));
}
