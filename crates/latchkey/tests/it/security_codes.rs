//! Authorization code injection and replay (RFC 6749 §4.1.2, §4.1.3, §10.5, §10.6; RFC 9700
//! §4.5), PKCE (RFC 7636 §4.6) and its downgrade (RFC 9700 §4.8), and mix-up defence
//! through `iss` in the authorization response (RFC 9207 §2, RFC 9700 §4.4).
//!
//! A code is good once, for the client it was issued to, with the redirect URI and the
//! PKCE verifier of its authorization request; anything else is refused, spends the code,
//! and a replay revokes what the first redemption issued.

use serde_json::{Value, json};

use crate::support::{Browser, Registered, TestServer, assert_oauth_error, backend_test, redirect_params};

const PASSWORD: &str = "correct horse battery staple";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A well-formed verifier that is not the one behind `CHALLENGE`.
const OTHER_VERIFIER: &str = "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CB: &str = "https://app.example.com/cb";
const CB_ENCODED: &str = "https%3A%2F%2Fapp.example.com%2Fcb";

fn authorize_url(server: &TestServer, client: &Registered, query: &str) -> String {
    server.url(&format!("/oauth2/authorize?client_id={}&{query}", client.id))
}

/// A code for `client`, approved by `user` in a fresh browser.
async fn code_for(server: &TestServer, client: &Registered, user: &str, query: &str) -> String {
    let params = Browser::new()
        .approve(server, &authorize_url(server, client, query), (user, PASSWORD))
        .await;
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

/// `grant_type=authorization_code` plus `form`, with Basic credentials when given.
async fn redeem(server: &TestServer, auth: Option<&Registered>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut all = vec![("grant_type", "authorization_code")];
    all.extend_from_slice(form);
    server.post_form("/oauth2/token", auth, &all).await
}

async fn redeemed(server: &TestServer, auth: &Registered, form: &[(&str, &str)]) -> Value {
    let response = redeem(server, Some(auth), form).await;
    assert_eq!(response.status(), 200, "the redemption works");
    response.json().await.unwrap()
}

async fn refresh(server: &TestServer, client: &Registered, token: &str) -> reqwest::Response {
    server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
}

async fn userinfo_status(server: &TestServer, token: &str) -> u16 {
    server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

backend_test! {
    // RFC 6749 §4.1.2 and §10.5, RFC 9700 §4.5: a code is single-use; a replay revokes what it issued.
    async fn a_replayed_code_is_refused_and_revokes_every_token_it_issued(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("ada", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let code = code_for(&server, &client, "ada", "response_type=code&scope=openid+notes:read").await;
        // An unrelated grant of the same user and client must survive the revocation.
        let bystander = code_for(&server, &client, "ada", "response_type=code&scope=openid+notes:read").await;
        let bystander = redeemed(&server, &client, &[("code", &bystander)]).await;

        let first = redeemed(&server, &client, &[("code", &code)]).await;
        let access = first["access_token"].as_str().unwrap();
        let refresh_token = first["refresh_token"].as_str().unwrap();
        assert_eq!(server.introspect(&client, access).await["active"], true);
        assert_eq!(userinfo_status(&server, access).await, 200);

        let replay = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(replay, 400, "invalid_grant").await;
        assert_eq!(server.introspect(&client, access).await, json!({"active": false}));
        assert_eq!(server.introspect(&client, refresh_token).await, json!({"active": false}));
        assert_eq!(userinfo_status(&server, access).await, 401, "the access token is dead at userinfo too");
        assert_oauth_error(refresh(&server, &client, refresh_token).await, 400, "invalid_grant").await;
        let third = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(third, 400, "invalid_grant").await;

        let other_access = bystander["access_token"].as_str().unwrap();
        assert_eq!(server.introspect(&client, other_access).await["active"], true, "only that grant is revoked");
        let other_refresh = bystander["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&server, &client, other_refresh).await.status(), 200);
    }
}

backend_test! {
    // RFC 6749 §4.1.3 and §10.5, RFC 9700 §4.5: a code is bound to the client it was issued to.
    async fn a_code_redeemed_by_another_client_is_refused_and_burnt(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("ben", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let thief = server.web_client(&["openid"]).await;
        let public_thief = server
            .register(|r| {
                r.name = "Public thief".into();
                r.public = true;
                r.grant_types = vec!["authorization_code".into()];
                r.redirect_uris = vec![CB.into()];
                r.scopes = vec!["openid".into()];
            })
            .await;

        // A confidential client with the same redirect URI, and a public one with PKCE.
        let code = code_for(&server, &client, "ben", "response_type=code").await;
        let stolen = redeem(&server, Some(&thief), &[("code", &code)]).await;
        assert_oauth_error(stolen, 400, "invalid_grant").await;
        let after = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(after, 400, "invalid_grant").await;

        let code = code_for(
            &server,
            &client,
            "ben",
            &format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256"),
        )
        .await;
        let stolen = redeem(
            &server,
            None,
            &[("code", &code), ("client_id", &public_thief.id), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_oauth_error(stolen, 400, "invalid_grant").await;
        // Presenting the victim's id without its secret is not client authentication at all.
        let code = code_for(&server, &client, "ben", "response_type=code").await;
        let unauthenticated = redeem(&server, None, &[("code", &code), ("client_id", &client.id)]).await;
        assert_oauth_error(unauthenticated, 401, "invalid_client").await;
        redeemed(&server, &client, &[("code", &code)]).await;
    }
}

backend_test! {
    // RFC 6749 §4.1.3 and §10.6: a code is bound to the redirect URI of its authorization request.
    async fn a_code_redeemed_with_another_redirect_uri_is_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("cat", PASSWORD).await;
        let client = server
            .register(|r| {
                r.name = "Two callbacks".into();
                r.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
                r.redirect_uris = vec![CB.into(), "https://app.example.com/other".into()];
                r.scopes = vec!["openid".into()];
            })
            .await;
        let query = format!("response_type=code&redirect_uri={CB_ENCODED}");

        // Another URI registered for the same client is still another URI.
        let code = code_for(&server, &client, "cat", &query).await;
        let other = redeem(
            &server,
            Some(&client),
            &[("code", &code), ("redirect_uri", "https://app.example.com/other")],
        )
        .await;
        assert_oauth_error(other, 400, "invalid_grant").await;
        let spent = redeem(&server, Some(&client), &[("code", &code), ("redirect_uri", CB)]).await;
        assert_oauth_error(spent, 400, "invalid_grant").await;

        for wrong in ["https://evil.example/cb", "https://app.example.com/cb/", "https://app.example.com/cb?x=1"] {
            let code = code_for(&server, &client, "cat", &query).await;
            let response = redeem(&server, Some(&client), &[("code", &code), ("redirect_uri", wrong)]).await;
            assert_oauth_error(response, 400, "invalid_grant").await;
        }
        // Omitted although the authorization request named it.
        let code = code_for(&server, &client, "cat", &query).await;
        let missing = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(missing, 400, "invalid_request").await;

        let code = code_for(&server, &client, "cat", &query).await;
        redeemed(&server, &client, &[("code", &code), ("redirect_uri", CB)]).await;
    }
}

backend_test! {
    // RFC 7636 §4.6: the verifier must hash to the challenge; a wrong one spends the code.
    async fn a_wrong_pkce_verifier_is_refused_and_spends_the_code(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("dot", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let query = format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let too_long = "a".repeat(129);
        for wrong in [OTHER_VERIFIER, CHALLENGE, "short", too_long.as_str(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+"] {
            let code = code_for(&server, &client, "dot", &query).await;
            let response = redeem(&server, Some(&client), &[("code", &code), ("code_verifier", wrong)]).await;
            assert_oauth_error(response, 400, "invalid_grant").await;
            let retry = redeem(&server, Some(&client), &[("code", &code), ("code_verifier", VERIFIER)]).await;
            assert_oauth_error(retry, 400, "invalid_grant").await;
        }
        let code = code_for(&server, &client, "dot", &query).await;
        redeemed(&server, &client, &[("code", &code), ("code_verifier", VERIFIER)]).await;
    }
}

backend_test! {
    // RFC 9700 §4.8.2: no PKCE downgrade: verifier without challenge, challenge without verifier, plain.
    async fn pkce_downgrades_are_refused(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("eve", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;

        // A verifier for a code issued without a challenge.
        let code = code_for(&server, &client, "eve", "response_type=code").await;
        let response = redeem(&server, Some(&client), &[("code", &code), ("code_verifier", VERIFIER)]).await;
        assert_oauth_error(response, 400, "invalid_grant").await;
        let spent = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(spent, 400, "invalid_grant").await;

        // A code issued with a challenge, redeemed without a verifier.
        let with_challenge = format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let code = code_for(&server, &client, "eve", &with_challenge).await;
        let response = redeem(&server, Some(&client), &[("code", &code)]).await;
        assert_oauth_error(response, 400, "invalid_grant").await;
        let spent = redeem(&server, Some(&client), &[("code", &code), ("code_verifier", VERIFIER)]).await;
        assert_oauth_error(spent, 400, "invalid_grant").await;

        // plain, spelled out or implied by a missing method (RFC 7636 §4.3), is refused at
        // the authorization endpoint before anyone is asked anything.
        let browser = Browser::new();
        for query in [
            format!("response_type=code&state=s&code_challenge={VERIFIER}&code_challenge_method=plain"),
            format!("response_type=code&state=s&code_challenge={VERIFIER}"),
            "response_type=code&state=s&code_challenge_method=S256".to_owned(),
            format!("response_type=code&state=s&code_challenge={CHALLENGE}&code_challenge_method=s256"),
        ] {
            let page = browser.get(&authorize_url(&server, &client, &query)).await;
            assert_eq!(page.status, 303, "{query}");
            let location = page.location().unwrap();
            assert!(location.starts_with(CB), "{location}");
            let params = redirect_params(&location);
            assert_eq!(params["error"], "invalid_request", "{query}");
            assert!(!params.contains_key("code"), "{query}");
        }
        let discovery: Value = server
            .http
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]), "plain is not advertised");
    }
}

backend_test! {
    // RFC 9207 §2, RFC 9700 §4.4.2: every authorization response names its issuer in `iss`.
    async fn every_authorization_response_carries_iss_equal_to_the_issuer(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("fay", PASSWORD).await;
        let client = server.web_client(&["openid", "notes:read"]).await;
        let spa = server
            .register(|r| {
                r.name = "Legacy SPA".into();
                r.public = true;
                r.grant_types = vec!["implicit".into()];
                r.redirect_uris = vec!["https://spa.example.com/".into()];
                r.scopes = vec!["notes:read".into()];
            })
            .await;
        let discovery: Value = server
            .http
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["authorization_response_iss_parameter_supported"], true);
        let issuer = discovery["issuer"].as_str().unwrap().to_owned();
        assert_eq!(issuer, server.issuer);

        let mut responses = Vec::new();
        // Success: code (query) and implicit (fragment).
        let browser = Browser::new();
        responses.push((
            "code",
            browser.approve(&server, &authorize_url(&server, &client, "response_type=code&state=s"), ("fay", PASSWORD)).await,
        ));
        responses.push((
            "implicit",
            browser.approve(&server, &authorize_url(&server, &spa, "response_type=token&state=s"), ("fay", PASSWORD)).await,
        ));
        // Errors: the user's denial, a bad request, and prompt=none without a session.
        server.user("gil", PASSWORD).await;
        let denied = Browser::new();
        let consent = denied
            .authorize(&server, &authorize_url(&server, &client, "response_type=code&state=s"), ("gil", PASSWORD))
            .await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        let deny = denied.submit(&server.base, &consent, "/oauth2/authorize", &[("decision", "deny")]).await;
        responses.push(("access_denied", redirect_params(&deny.location().unwrap())));
        for (what, query) in [
            ("invalid_scope", "response_type=code&scope=admin&state=s"),
            ("login_required", "response_type=code&prompt=none&state=s"),
            ("unsupported_response_type", "response_type=bogus&state=s"),
        ] {
            let page = Browser::new().get(&authorize_url(&server, &client, query)).await;
            assert_eq!(page.status, 303, "{what}");
            let params = redirect_params(&page.location().unwrap());
            assert_eq!(params["error"], what);
            responses.push((what, params));
        }
        for (what, params) in &responses {
            assert_eq!(params.get("iss").map(String::as_str), Some(issuer.as_str()), "{what}: {params:?}");
            assert_eq!(params["state"], "s", "{what}");
        }
    }
}
