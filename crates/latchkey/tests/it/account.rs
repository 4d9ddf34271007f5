//! The account page's own forms: changing the password (other sessions end, this one
//! stays) and signing out everywhere, each CSRF-protected.

use crate::support::{Browser, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a much newer passphrase";

/// A browser signed in as `username` (through the login page).
async fn signed_in(server: &TestServer, username: &str, password: &str) -> Browser {
    let browser = Browser::new();
    let login = browser.get(&server.url("/login")).await;
    assert_eq!(login.status, 200);
    let done = browser
        .submit(
            &server.base,
            &login,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let account = browser.get(&server.url("/account")).await;
    assert!(
        account.html.contains(&format!("Signed in as {username}")),
        "{}",
        account.html
    );
    browser
}

fn is_signed_in(html: &str) -> bool {
    html.contains("Signed in as")
}

backend_test! {
    async fn changing_the_password_checks_the_old_one_and_ends_other_sessions(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("fay", PASSWORD).await;
        let here = signed_in(&server, "fay", PASSWORD).await;
        let elsewhere = signed_in(&server, "fay", PASSWORD).await;
        let account = here.get(&server.url("/account")).await;
        for field in ["current_password", "new_password", "new_password_again"] {
            assert!(account.html.contains(&format!(r#"name="{field}""#)), "{field}");
        }

        let wrong = here
            .submit(&server.base, &account, "/account/password", &[
                ("current_password", "not it at all"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ])
            .await;
        assert_eq!(wrong.status, 403);
        assert!(wrong.html.contains("the current password is not right"), "{}", wrong.html);
        let differ = here
            .submit(&server.base, &account, "/account/password", &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", "something else entirely"),
            ])
            .await;
        assert_eq!(differ.status, 400);
        let short = here
            .submit(&server.base, &account, "/account/password", &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_again", "short"),
            ])
            .await;
        assert_eq!(short.status, 400, "{}", short.html);
        assert!(is_signed_in(&elsewhere.get(&server.url("/account")).await.html), "nothing changed yet");

        let changed = here
            .submit(&server.base, &account, "/account/password", &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ])
            .await;
        assert_eq!(changed.status, 200, "{}", changed.html);
        assert!(changed.html.contains("Your password is changed. 1 other session was signed out."), "{}", changed.html);
        assert!(is_signed_in(&here.get(&server.url("/account")).await.html), "this session stays");
        assert!(!is_signed_in(&elsewhere.get(&server.url("/account")).await.html), "the other one ended");
        signed_in(&server, "fay", NEW_PASSWORD).await;
        let old = Browser::new();
        let login = old.get(&server.url("/login")).await;
        let refused = old
            .submit(&server.base, &login, "/login", &[("username", "fay"), ("password", PASSWORD)])
            .await;
        assert!(refused.html.contains("Invalid username or password."), "the old password is gone");

        let forged = Browser::new()
            .post(&server.url("/account/password"), &[
                ("current_password".into(), NEW_PASSWORD.into()),
                ("new_password".into(), "attacker's choice 123".into()),
                ("new_password_again".into(), "attacker's choice 123".into()),
            ])
            .await;
        assert_eq!(forged.status, 403, "CSRF-protected");
    }
}

backend_test! {
    async fn signing_out_everywhere_ends_every_session(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        server.user("gus", PASSWORD).await;
        server.user("hal", PASSWORD).await;
        let here = signed_in(&server, "gus", PASSWORD).await;
        let elsewhere = signed_in(&server, "gus", PASSWORD).await;
        let someone_else = signed_in(&server, "hal", PASSWORD).await;

        let forged = Browser::new()
            .post(&server.url("/account/sessions/end"), &[])
            .await;
        assert_eq!(forged.status, 403, "CSRF-protected");

        let account = here.get(&server.url("/account")).await;
        assert!(account.html.contains(r#"name="sign_out_everywhere""#));
        let ended = here
            .submit(&server.base, &account, "/account/sessions/end", &[])
            .await;
        assert_eq!(ended.status, 200);
        assert!(ended.html.contains("2 sessions were ended, this one included."), "{}", ended.html);
        assert!(!is_signed_in(&here.get(&server.url("/account")).await.html));
        assert!(!is_signed_in(&elsewhere.get(&server.url("/account")).await.html));
        assert!(is_signed_in(&someone_else.get(&server.url("/account")).await.html), "other users keep theirs");
    }
}
