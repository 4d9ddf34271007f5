//! Passkeys (issue #9, WebAuthn Level 3): registered from the account page, used as the
//! second step after a password and on their own (passwordless, user verification
//! required). A software authenticator (`latchkey_core::webauthn::soft`) makes real
//! P-256 / Ed25519 credentials and assertions over the challenges the pages carry, so every
//! relying-party check runs against genuine bytes: origin, RP id, challenge (single use,
//! even with the cookies replayed), user presence and verification, signature, counter.

use latchkey_core::Clock as _;
use latchkey_core::id::UserId;
use latchkey_core::passkey::{self, PasskeyRefusal};
use latchkey_core::secret::{b64, b64_decode};
use latchkey_core::store::Passkey;
use latchkey_core::webauthn::soft::{Authenticator, KeyKind};
use latchkey_core::webauthn::{Assertion, RelyingParty};
use serde_json::Value;

use crate::mfa::password_step;
use crate::support::{Browser, Page, TestServer, backend_test, decode_part};

const PASSWORD: &str = "correct horse battery staple";

/// A `data-NAME` attribute of the page's passkey form.
fn data(page: &Page, name: &str) -> String {
    page.html
        .split(&format!(r#" data-{name}=""#))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no data-{name} in {}", page.html))
        .to_owned()
}

pub(crate) fn challenge(page: &Page) -> Vec<u8> {
    b64_decode(&data(page, "challenge")).unwrap()
}

pub(crate) fn assertion_fields(assertion: &Assertion) -> Vec<(&'static str, String)> {
    vec![
        ("credential_id", b64(&assertion.credential_id)),
        ("client_data_json", b64(&assertion.client_data_json)),
        ("authenticator_data", b64(&assertion.authenticator_data)),
        ("signature", b64(&assertion.signature)),
        (
            "user_handle",
            assertion.user_handle.as_deref().map(b64).unwrap_or_default(),
        ),
    ]
}

async fn submit_assertion(
    server: &TestServer,
    browser: &Browser,
    page: &Page,
    action: &str,
    assertion: &Assertion,
) -> Page {
    let fields = assertion_fields(assertion);
    let extra: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(&server.base, page, action, &extra).await
}

/// Adds a passkey from the account page of a signed-in browser; returns the page after.
pub(crate) async fn add_passkey(
    server: &TestServer,
    browser: &Browser,
    device: &mut Authenticator,
    name: &str,
) -> Page {
    let account = browser.get(&server.url("/account")).await;
    assert!(account.html.contains("Add a passkey"), "{}", account.html);
    let page = browser
        .submit(
            &server.base,
            &account,
            "/account/passkeys/new",
            &[("add_passkey", "1")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    let rp = RelyingParty::for_issuer(&server.issuer).unwrap();
    assert_eq!(data(&page, "rp-id"), rp.id);
    let (client_data, attestation) = device.create(&challenge(&page), &rp.origin);
    browser
        .submit(
            &server.base,
            &page,
            "/account/passkeys/add",
            &[
                ("name", name),
                ("client_data_json", &b64(&client_data)),
                ("attestation_object", &b64(&attestation)),
            ],
        )
        .await
}

fn cookie_pairs(pages: &[&Page]) -> String {
    pages
        .iter()
        .flat_map(|p| p.headers.get_all("set-cookie").iter())
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The ID token a signed-in `browser` gets for `client` (consent allowed if asked).
async fn id_token_claims(
    server: &TestServer,
    browser: &Browser,
    client: &crate::support::Registered,
    extra: &str,
) -> Value {
    let url = server.url(&format!(
        "/oauth2/authorize?response_type=code&client_id={}&scope=openid&nonce=n{extra}",
        client.id
    ));
    // Signed in already: the credentials are never asked for.
    let code = browser.approve(server, &url, ("", "")).await["code"].clone();
    let tokens: Value = server
        .post_form(
            "/oauth2/token",
            Some(client),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
        .json()
        .await
        .unwrap();
    decode_part(tokens["id_token"].as_str().unwrap(), 1)
}

backend_test! {
    async fn passkeys_register_then_serve_as_second_step_and_alone(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let ivy = UserId::new(server.user("ivy", PASSWORD).await);
        let client = server.web_client(&["openid"]).await;
        let rp = RelyingParty::for_issuer(&server.issuer).unwrap();
        let handle = passkey::user_handle(&ivy);

        // Registration from the account page.
        let browser = Browser::new();
        assert_eq!(password_step(&server, &browser, "ivy", "/").await.status, 303);
        let mut laptop = Authenticator::new(KeyKind::Es256, &rp);
        let added = add_passkey(&server, &browser, &mut laptop, "Laptop <3").await;
        assert_eq!(added.status, 200, "{}", added.html);
        assert!(added.html.contains("Laptop &#60;3"), "escaped: {}", added.html);
        assert!(added.html.contains("not used yet"));
        let stored = server.store().find_passkey(&laptop.credential_id).await.unwrap().unwrap();
        assert_eq!((stored.user_id.clone(), stored.algorithm), (ivy.clone(), -7));

        // The add page excludes registered credentials and hands over the user handle.
        let account = browser.get(&server.url("/account")).await;
        let again = browser.submit(&server.base, &account, "/account/passkeys/new", &[]).await;
        assert_eq!(data(&again, "credentials"), b64(&laptop.credential_id));
        assert_eq!(data(&again, "user-id"), b64(&handle));
        // A registration answered for another site's RP id, or from another origin, is refused.
        let mut phished = Authenticator::new(KeyKind::Es256, &RelyingParty::for_issuer("https://evil.test").unwrap());
        let (cd, att) = phished.create(&challenge(&again), &rp.origin);
        let refused = browser
            .submit(&server.base, &again, "/account/passkeys/add", &[("client_data_json", &b64(&cd)), ("attestation_object", &b64(&att))])
            .await;
        assert_eq!(refused.status, 400);
        assert!(refused.html.contains("belongs to another site"), "{}", refused.html);
        let mut tablet = Authenticator::new(KeyKind::Ed25519, &rp);
        let (cd, att) = tablet.create(&challenge(&refused), "http://evil.test");
        let refused = browser
            .submit(&server.base, &refused, "/account/passkeys/add", &[("client_data_json", &b64(&cd)), ("attestation_object", &b64(&att))])
            .await;
        assert!(refused.html.contains("made for another site"), "{}", refused.html);
        // The same credential twice is refused.
        let (cd, att) = laptop.create(&challenge(&refused), &rp.origin);
        let twice = browser
            .submit(&server.base, &refused, "/account/passkeys/add", &[("client_data_json", &b64(&cd)), ("attestation_object", &b64(&att))])
            .await;
        assert!(twice.html.contains("already registered"), "{}", twice.html);
        assert_eq!(server.store().list_passkeys(&ivy).await.unwrap().len(), 1);

        // Second step: the password alone opens nothing; the page offers the passkey and no
        // code form (no authenticator app).
        let second = Browser::new();
        let after_password = password_step(&server, &second, "ivy", "/account").await;
        let location = after_password.location().unwrap();
        assert!(location.starts_with("/login/mfa?"), "{location}");
        let mfa_page = second.get(&server.url(&location)).await;
        assert!(mfa_page.html.contains(r#"<form method="post" action="/login/mfa/passkey""#), "{}", mfa_page.html);
        assert!(!mfa_page.html.contains(r#"name="code""#));
        assert_eq!(data(&mfa_page, "credentials"), b64(&laptop.credential_id));
        // A phishing page's assertion (another origin) is refused and opens nothing.
        let phishing = laptop.get(&challenge(&mfa_page), "http://evil.test", &handle);
        let refused = submit_assertion(&server, &second, &mfa_page, "/login/mfa/passkey", &phishing).await;
        assert!(refused.html.contains("made for another site"), "{}", refused.html);
        assert!(!second.get(&server.url("/account")).await.html.contains("Signed in as"));
        // A presence test is enough for a second step (no user verification asked).
        laptop.user_verified = false;
        let genuine = laptop.get(&challenge(&refused), &rp.origin, &[]);
        let done = submit_assertion(&server, &second, &refused, "/login/mfa/passkey", &genuine).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location().as_deref(), Some("/account"));
        let account = second.get(&server.url("/account")).await;
        assert!(account.html.contains("Signed in as ivy"));
        assert!(account.html.contains("last used"), "{}", account.html);
        let claims = id_token_claims(&server, &second, &client, "&acr_values=urn:latchkey:acr:mfa").await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "hwk", "mfa"]));
        assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

        // Passwordless: from the login page, with user verification.
        laptop.user_verified = true;
        let alone = Browser::new();
        let login = alone.get(&server.url("/login?return_to=%2Faccount")).await;
        assert_eq!(data(&login, "user-verification"), "required");
        assert_eq!(data(&login, "credentials"), "", "discoverable: no list");
        let assertion = laptop.get(&challenge(&login), &rp.origin, &handle);
        let done = submit_assertion(&server, &alone, &login, "/login/passkey", &assertion).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location().as_deref(), Some("/account"));
        let claims = id_token_claims(&server, &alone, &client, "").await;
        assert_eq!(claims["amr"], serde_json::json!(["hwk", "mfa"]));
        assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

        // Passwordless without user verification, or without a user handle, is refused.
        laptop.user_verified = false;
        let refused = Browser::new();
        let login = refused.get(&server.url("/login")).await;
        let no_uv = laptop.get(&challenge(&login), &rp.origin, &handle);
        let page = submit_assertion(&server, &refused, &login, "/login/passkey", &no_uv).await;
        assert!(page.html.contains("did not verify you"), "{}", page.html);
        laptop.user_verified = true;
        let no_handle = laptop.get(&challenge(&page), &rp.origin, &[]);
        let page = submit_assertion(&server, &refused, &page, "/login/passkey", &no_handle).await;
        assert!(page.html.contains("not registered for this account"), "{}", page.html);
        // Someone else's user handle does not make the passkey theirs.
        let wrong_handle = laptop.get(&challenge(&page), &rp.origin, &passkey::user_handle(&UserId::new("other")));
        let page = submit_assertion(&server, &refused, &page, "/login/passkey", &wrong_handle).await;
        assert!(page.html.contains("not registered for this account"), "{}", page.html);
        // A cloned authenticator (its counter behind ours) is refused.
        let counter = laptop.counter;
        laptop.counter = 0;
        let cloned = laptop.get(&challenge(&page), &rp.origin, &handle);
        let page = submit_assertion(&server, &refused, &page, "/login/passkey", &cloned).await;
        assert!(page.html.contains("counter went backwards"), "{}", page.html);
        laptop.counter = counter;
        // A forged signature is refused.
        let mut forged = laptop.get(&challenge(&page), &rp.origin, &handle);
        forged.signature = Authenticator::new(KeyKind::Es256, &rp).get(&challenge(&page), &rp.origin, &handle).signature;
        let page = submit_assertion(&server, &refused, &page, "/login/passkey", &forged).await;
        assert!(page.html.contains("signature is not valid"), "{}", page.html);
        assert!(!refused.get(&server.url("/account")).await.html.contains("Signed in as"));

        // A synced passkey keeps no counter (always 0); it signs in any number of times.
        let mut phone = Authenticator::new(KeyKind::Es256, &rp);
        phone.counts = false;
        let added = add_passkey(&server, &browser, &mut phone, "Phone").await;
        assert!(added.html.contains("Passkey \u{201c}Phone\u{201d} added."), "{}", added.html);
        for _ in 0..2 {
            let fresh = Browser::new();
            let login = fresh.get(&server.url("/login")).await;
            let assertion = phone.get(&challenge(&login), &rp.origin, &handle);
            assert_eq!(submit_assertion(&server, &fresh, &login, "/login/passkey", &assertion).await.status, 303);
        }

        // An accepted request replayed whole (cookies and form, as a thief who captured it
        // would) is refused even so: the challenge was spent.
        let victim = Browser::new();
        let login = victim.get(&server.url("/login?return_to=%2Faccount")).await;
        let assertion = phone.get(&challenge(&login), &rp.origin, &handle);
        let mut form = login.inputs();
        form.extend(assertion_fields(&assertion).into_iter().map(|(k, v)| (k.to_owned(), v)));
        let cookies = cookie_pairs(&[&login]);
        let send = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(server.url("/login/passkey"))
                .header("cookie", cookies.clone())
                .form(&form)
                .send()
        };
        assert_eq!(send().await.unwrap().status(), 303);
        let replayed = send().await.unwrap();
        assert_eq!(replayed.status(), 200);
        assert!(replayed.text().await.unwrap().contains("expired or was already used"));

        // Removing them: the password sign-in is one step again.
        for device in [&laptop, &phone] {
            let account = browser.get(&server.url("/account")).await;
            let removed = browser
                .submit(&server.base, &account, "/account/passkeys/remove", &[("credential_id", &b64(&device.credential_id))])
                .await;
            assert!(removed.html.contains("Passkey removed."), "{}", removed.html);
        }
        let plain = Browser::new();
        assert_eq!(password_step(&server, &plain, "ivy", "/account").await.location().as_deref(), Some("/account"));
        // The audit trail (written in batches) has each kind of passkey event.
        let wanted = ["passkey.added", "passkey.used", "passkey.failed", "passkey.removed"];
        let mut kinds = Vec::new();
        for _ in 0..50 {
            let query = latchkey_core::audit::AuditQuery { limit: 1000, ..Default::default() };
            kinds = server.store().list_audit_events(&query).await.unwrap().iter().map(|e| e.kind.to_string()).collect::<Vec<_>>();
            if wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for kind in wanted {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
    }
}

backend_test! {
    async fn the_last_way_in_stays_and_operators_can_reset_passkeys(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let now = server.clock.now();
        // An account with no password (as an upstream sign-in creates) and one passkey.
        let user = latchkey_core::user::User {
            id: UserId::generate(),
            username: "pax".into(),
            email: None,
            name: None,
            created_at: now,
        };
        server.store().insert_user(&user, latchkey_core::user::NO_PASSWORD).await.unwrap();
        let key = |id: &[u8]| Passkey {
            credential_id: id.to_vec(),
            user_id: user.id.clone(),
            name: "Phone".into(),
            public_key: Vec::new(),
            algorithm: -7,
            sign_count: 0,
            backup_eligible: true,
            created_at: now,
            last_used_at: None,
        };
        server.store().add_passkey(&key(b"one")).await.unwrap();
        let context = &server.context;
        assert_eq!(
            passkey::remove(context, &user.id, b"one", now).await.unwrap(),
            Err(PasskeyRefusal::LastWayIn)
        );
        assert_eq!(
            passkey::remove(context, &user.id, b"nope", now).await.unwrap(),
            Err(PasskeyRefusal::Unknown)
        );
        server.store().add_passkey(&key(b"two")).await.unwrap();
        assert_eq!(passkey::remove(context, &user.id, b"one", now).await.unwrap(), Ok(()));
        assert!(latchkey_core::mfa::has_second_factor(context, &user.id).await.unwrap());

        // The operator's "remove second factors" takes passkeys too.
        let actor = latchkey_core::audit::Actor::Anonymous;
        assert!(latchkey_core::mfa::reset(context, &user.id, &actor, now).await.unwrap());
        assert!(server.store().list_passkeys(&user.id).await.unwrap().is_empty());
        assert!(!latchkey_core::mfa::reset(context, &user.id, &actor, now).await.unwrap());
    }
}

#[tokio::test]
async fn pages_load_the_passkey_script_under_their_csp() {
    let server = TestServer::start_on(crate::support::Backend::Sqlite).await;
    let login = Browser::new().get(&server.url("/login")).await;
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        login
            .html
            .contains(r#"<script src="/assets/passkey.js" defer></script>"#)
    );
    // INTERFACE.md: the login form's one `button[type=submit]` stays the password's.
    assert_eq!(
        login.html.matches(r#"type="submit""#).count(),
        1,
        "{}",
        login.html
    );
    // One form: a scraper that posts every input of the page sends each name once.
    assert_eq!(login.html.matches("<form").count(), 1, "{}", login.html);
    assert!(login.html.contains(r#"data-passkey-action="/login/passkey""#));
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("latchkey_webauthn="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=300"),
        "{cookie}"
    );
    let script = server
        .http
        .get(server.url("/assets/passkey.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    assert!(script.text().await.unwrap().contains("navigator.credentials.get"));
}
