//! Two-step sign-in (issue #9): TOTP (RFC 6238) enrolled from the account page with a QR
//! code, confirmed by a first code, then asked for at every sign-in; each code works once
//! (RFC 6238 §5.2), recovery codes work once each, wrong codes back off, and the ID token's
//! `amr` and `acr` say how the user signed in. A client asking for
//! `acr_values=urn:latchkey:acr:mfa` gets a step-up, or an error when the account has no
//! second factor.

use std::time::Duration;

use latchkey_core::Clock as _;
use latchkey_core::mfa::{ACR_MFA, STEP_SECS, TotpSecret};
use serde_json::Value;

use crate::support::{Browser, Page, TestServer, backend_test, base32_decode, decode_part, redirect_params};

const PASSWORD: &str = "correct horse battery staple";

fn code(server: &TestServer, secret: &TotpSecret) -> String {
    format!(
        "{:06}",
        secret.code_at_step(server.clock.now().as_secs() / STEP_SECS)
    )
}

/// Signs in with the password only (no second factor yet, or to reach the code page).
pub(crate) async fn password_step(
    server: &TestServer,
    browser: &Browser,
    username: &str,
    return_to: &str,
) -> Page {
    let form = browser
        .get(&server.url(&format!(
            "/login?return_to={}",
            url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
        )))
        .await;
    browser
        .submit(
            &server.base,
            &form,
            "/login",
            &[("username", username), ("password", PASSWORD)],
        )
        .await
}

/// The code page after a right password, and its answer to `typed`.
async fn code_step(server: &TestServer, browser: &Browser, after_password: &Page, typed: &str) -> Page {
    let location = after_password.location().unwrap();
    assert!(location.starts_with("/login/mfa?"), "{location}");
    let form = browser.get(&server.url(&location)).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert!(form.html.contains(r#"name="code""#));
    browser
        .submit(&server.base, &form, "/login/mfa", &[("code", typed)])
        .await
}

fn cookies_set(page: &Page) -> Vec<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
        .collect()
}

backend_test! {
    async fn totp_enrolment_sign_in_replay_recovery_codes_and_step_up(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("mia", PASSWORD).await;
        server.user("noah", PASSWORD).await;
        let client = server.web_client(&["openid"]).await;
        let authorize = |extra: &str| {
            server.url(&format!(
                "/oauth2/authorize?response_type=code&client_id={}&scope=openid&nonce=n{extra}",
                client.id
            ))
        };

        // A session from before enrolment: password only.
        let early = Browser::new();
        assert_eq!(password_step(&server, &early, "mia", "/").await.status, 303);

        // Enrolment: QR code and key, a wrong code is refused, the right one turns it on.
        let account = early.get(&server.url("/account")).await;
        assert!(account.html.contains("Set up two-step sign-in"), "{}", account.html);
        let setup = early
            .submit(&server.base, &account, "/account/mfa/setup", &[("setup_mfa", "1")])
            .await;
        assert_eq!(setup.status, 200, "{}", setup.html);
        assert!(setup.html.contains("<svg") && setup.html.contains("<path d=\"M"), "a QR code");
        let key = setup.html.split(r#"<code id="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap();
        let secret = TotpSecret::from_bytes(base32_decode(key));
        let wrong = early.submit(&server.base, &setup, "/account/mfa/confirm", &[("code", "000000")]).await;
        assert!(wrong.status == 400 || code(&server, &secret) == "000000", "{}", wrong.html);
        let first_code = code(&server, &secret);
        let done = early.submit(&server.base, &setup, "/account/mfa/confirm", &[("code", &first_code)]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        let recovery: Vec<String> = done
            .html
            .split("<li><code>")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10, "{}", done.html);
        let account = early.get(&server.url("/account")).await;
        assert!(account.html.contains("10 recovery codes left"), "{}", account.html);

        // Signing in now takes the password, then a code; the password alone opens nothing.
        let browser = Browser::new();
        let after_password = password_step(&server, &browser, "mia", "/account").await;
        assert_eq!(after_password.status, 303);
        assert_eq!(cookies_set(&after_password), ["latchkey_mfa"], "no session yet");
        assert!(!browser.get(&server.url("/account")).await.html.contains("Signed in as"));
        // The code already used at enrolment is refused (same 30-second step).
        let replay = code_step(&server, &browser, &after_password, &first_code).await;
        assert!(replay.html.contains("That code is not right."), "{}", replay.html);
        server.clock.advance(Duration::from_secs(STEP_SECS as u64));
        let next = code(&server, &secret);
        let signed_in = code_step(&server, &browser, &after_password, &next).await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.html);
        assert_eq!(signed_in.location().as_deref(), Some("/account"));
        assert!(browser.get(&server.url("/account")).await.html.contains("Signed in as mia"));

        // The ID token says how: pwd + otp, acr mfa; asking for mfa is satisfied.
        let page = browser.authorize(&server, &authorize(&format!("&acr_values={ACR_MFA}")), ("mia", PASSWORD)).await;
        let page = if page.status == 200 {
            browser.submit(&server.base, &page, "/oauth2/authorize", &[("decision", "allow")]).await
        } else {
            page
        };
        let code_param = redirect_params(&page.location().unwrap())["code"].clone();
        let tokens: Value = server
            .post_form("/oauth2/token", Some(&client), &[("grant_type", "authorization_code"), ("code", &code_param)])
            .await
            .json()
            .await
            .unwrap();
        let id = decode_part(tokens["id_token"].as_str().unwrap(), 1);
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(id["acr"], ACR_MFA);

        // The early password-only session is stepped up: sent to sign in again.
        let step_up = early.get(&authorize(&format!("&acr_values={ACR_MFA}"))).await;
        assert!(step_up.location().unwrap().starts_with("/login?"), "{:?}", step_up.location());
        // Someone without a second factor gets an error back at the client, not a loop.
        let plain = Browser::new();
        password_step(&server, &plain, "noah", "/").await;
        let refused = plain.get(&authorize(&format!("&acr_values={ACR_MFA}&state=s1"))).await;
        let params = redirect_params(&refused.location().unwrap());
        assert_eq!(params["error"], "access_denied", "{params:?}");
        assert_eq!(params["state"], "s1");

        // A recovery code works once.
        let other = Browser::new();
        let after_password = password_step(&server, &other, "mia", "/account").await;
        let used = code_step(&server, &other, &after_password, &recovery[0].to_uppercase()).await;
        assert_eq!(used.status, 303, "{}", used.html);
        let again = Browser::new();
        let after_password = password_step(&server, &again, "mia", "/account").await;
        let reused = code_step(&server, &again, &after_password, &recovery[0]).await;
        assert!(reused.html.contains("That code is not right."));
        assert!(other.get(&server.url("/account")).await.html.contains("9 recovery codes left"));

        // Wrong codes back off.
        let mut limited = false;
        for _ in 0..8 {
            let page = code_step(&server, &again, &after_password, "123456").await;
            if page.status == 429 {
                assert!(page.headers.get("retry-after").is_some());
                limited = true;
                break;
            }
        }
        assert!(limited, "wrong codes are rate limited");

        // The challenge expires.
        let late = Browser::new();
        let after_password = password_step(&server, &late, "mia", "/account").await;
        server.clock.advance(Duration::from_secs(301));
        let expired = late.get(&server.url(&after_password.location().unwrap())).await;
        assert_eq!(expired.location().as_deref(), Some("/login"));

        // Turning it off needs the password.
        let account = browser.get(&server.url("/account")).await;
        let refused = browser
            .submit(&server.base, &account, "/account/mfa/remove", &[("current_password", "wrong one entirely")])
            .await;
        assert_eq!(refused.status, 403);
        let off = browser
            .submit(&server.base, &account, "/account/mfa/remove", &[("current_password", PASSWORD)])
            .await;
        assert!(off.html.contains("Two-step sign-in is off."), "{}", off.html);
        let simple = Browser::new();
        let after_password = password_step(&server, &simple, "mia", "/account").await;
        assert_eq!(after_password.location().as_deref(), Some("/account"));
        assert_eq!(cookies_set(&after_password), ["latchkey_session"]);
    }
}
