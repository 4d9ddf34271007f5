//! The admin API (`/admin/v1`) from an operator's side: protected by Latchkey's own
//! client-credentials tokens (no token, wrong scope, read scope writing, revoked token),
//! CRUD on clients, users, scopes and keys, revocation by user, client and grant, the
//! audit trail, problem-details errors, pagination, and the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Browser, Registered, TestServer, backend_test};

const PASSWORD: &str = "correct horse battery staple";

/// Every route of the admin API, as the router registers them.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/admin/v1/clients"),
    ("post", "/admin/v1/clients"),
    ("get", "/admin/v1/clients/{client_id}"),
    ("patch", "/admin/v1/clients/{client_id}"),
    ("delete", "/admin/v1/clients/{client_id}"),
    ("post", "/admin/v1/clients/{client_id}/secret"),
    ("post", "/admin/v1/clients/{client_id}/revoke-tokens"),
    ("get", "/admin/v1/users"),
    ("post", "/admin/v1/users"),
    ("get", "/admin/v1/users/{user_id}"),
    ("patch", "/admin/v1/users/{user_id}"),
    ("delete", "/admin/v1/users/{user_id}"),
    ("put", "/admin/v1/users/{user_id}/password"),
    ("get", "/admin/v1/users/{user_id}/grants"),
    ("delete", "/admin/v1/users/{user_id}/grants/{client_id}"),
    ("post", "/admin/v1/users/{user_id}/revoke-tokens"),
    ("get", "/admin/v1/users/{user_id}/mfa"),
    ("delete", "/admin/v1/users/{user_id}/mfa"),
    ("get", "/admin/v1/providers"),
    ("put", "/admin/v1/providers/{id}"),
    ("delete", "/admin/v1/providers/{id}"),
    ("get", "/admin/v1/roles"),
    ("put", "/admin/v1/roles/{name}"),
    ("delete", "/admin/v1/roles/{name}"),
    ("get", "/admin/v1/users/{user_id}/roles"),
    ("put", "/admin/v1/users/{user_id}/roles/{name}"),
    ("delete", "/admin/v1/users/{user_id}/roles/{name}"),
    ("get", "/admin/v1/scopes"),
    ("put", "/admin/v1/scopes/{scope}"),
    ("delete", "/admin/v1/scopes/{scope}"),
    ("post", "/admin/v1/grants/{grant_id}/revoke"),
    ("get", "/admin/v1/keys"),
    ("get", "/admin/v1/keys/{kid}"),
    ("post", "/admin/v1/keys/rotate"),
    ("get", "/admin/v1/audit"),
    ("get", "/admin/v1/doctor"),
];

struct Admin<'a> {
    server: &'a TestServer,
    token: String,
}

impl Admin<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .server
            .http
            .request(method, self.server.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

async fn operator<'a>(server: &'a TestServer, scope: &str) -> (Admin<'a>, Registered) {
    let client = server
        .service_client(&["admin:read", "admin:write", "notes:read"])
        .await;
    let token = server.token(&client, Some(scope)).await;
    (Admin { server, token }, client)
}

backend_test! {
    async fn the_admin_api_is_protected_by_latchkey_tokens(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let none = server.http.get(server.url("/admin/v1/clients")).send().await.unwrap();
        assert_eq!(none.status(), 401);
        assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        assert_eq!(none.headers()["content-type"], "application/problem+json");
        let problem: Value = none.json().await.unwrap();
        assert_eq!((problem["status"].as_u64(), problem["title"].as_str()), (Some(401), Some("Unauthorized")));

        let (wrong, _) = operator(&server, "notes:read").await;
        let (status, problem) = wrong.call(Method::GET, "/admin/v1/clients", None).await;
        assert_eq!(status, 403, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("admin:read"));

        let (reader, _) = operator(&server, "admin:read").await;
        reader.get("/admin/v1/clients").await;
        let (status, problem) = reader
            .call(Method::POST, "/admin/v1/clients", Some(json!({"client_name": "Nope"})))
            .await;
        assert_eq!(status, 403, "a read token cannot write: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("admin:write"));

        let forged = server
            .http
            .get(server.url("/admin/v1/clients"))
            .bearer_auth(format!("{}x", reader.token))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);

        // A revoked operator token stops working at once.
        let (writer, writer_client) = operator(&server, "admin:write").await;
        writer.get("/admin/v1/clients").await;
        let revoked = server
            .post_form("/oauth2/revoke", Some(&writer_client), &[("token", &writer.token)])
            .await;
        assert_eq!(revoked.status(), 200);
        let (status, _) = writer.call(Method::GET, "/admin/v1/clients", None).await;
        assert_eq!(status, 401);
    }
}

backend_test! {
    async fn operators_manage_clients_users_scopes_and_keys(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let (admin, operator_client) = operator(&server, "admin:write").await;

        // Clients: create (secret shown once), use it, page through, rotate, delete.
        let (status, created) = admin
            .call(Method::POST, "/admin/v1/clients", Some(json!({
                "client_name": "Reporting job",
                "grant_types": ["client_credentials"],
                "scope": "notes:read"
            })))
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        let job = Registered { id: id.clone(), secret: secret.clone() };
        server.token(&job, Some("notes:read")).await;
        let shown = admin.get(&format!("/admin/v1/clients/{id}")).await;
        assert_eq!(shown["client_name"], "Reporting job");
        assert!(shown.get("client_secret").is_none(), "never shown again");
        let (status, problem) = admin
            .call(Method::POST, "/admin/v1/clients", Some(json!({"client_name": "Bad", "redirect_uris": ["not a uri"], "grant_types": ["authorization_code"]})))
            .await;
        assert_eq!(status, 400, "{problem}");
        let (status, problem) = admin
            .call(Method::POST, "/admin/v1/clients", Some(json!({"client_name": 5})))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["status"], 422);

        let first = admin.get("/admin/v1/clients?limit=1").await;
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        let next = first["next"].as_str().unwrap();
        let second = admin.get(&format!("/admin/v1/clients?limit=1&after={next}")).await;
        assert_eq!(second["items"].as_array().unwrap().len(), 1);
        assert!(second.get("next").is_none(), "two clients, two pages");
        let ids: Vec<&str> = [&first, &second].iter().map(|p| p["items"][0]["client_id"].as_str().unwrap()).collect();
        assert!(ids.contains(&id.as_str()) && ids.contains(&operator_client.id.as_str()));
        let (status, _) = admin.call(Method::GET, "/admin/v1/clients?limit=0", None).await;
        assert_eq!(status, 400);

        let (status, changed) = admin
            .call(Method::PATCH, &format!("/admin/v1/clients/{id}"), Some(json!({"client_name": "Nightly reports", "scope": "notes:read notes:write"})))
            .await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!((changed["client_name"].as_str(), changed["scope"].as_str()), (Some("Nightly reports"), Some("notes:read notes:write")));
        server.token(&job, Some("notes:write")).await;
        let (status, problem) = admin
            .call(Method::PATCH, &format!("/admin/v1/clients/{id}"), Some(json!({"grant_types": ["authorization_code"]})))
            .await;
        assert_eq!(status, 400, "a code-flow client needs a redirect URI: {problem}");
        let (status, _) = admin
            .call(Method::PATCH, &format!("/admin/v1/clients/{id}"), Some(json!({"token_endpoint_auth_method": "none"})))
            .await;
        assert_eq!(status, 422, "the auth method cannot change");
        let (status, rotated) = admin.call(Method::POST, &format!("/admin/v1/clients/{id}/secret"), None).await;
        assert_eq!(status, 200);
        let old = server.post_form("/oauth2/token", Some(&job), &[("grant_type", "client_credentials")]).await;
        assert_eq!(old.status(), 401, "the old secret stops working");
        let job = Registered { id: id.clone(), secret: rotated["client_secret"].as_str().unwrap().to_owned() };
        server.token(&job, None).await;
        let (status, _) = admin.call(Method::DELETE, &format!("/admin/v1/clients/{id}"), None).await;
        assert_eq!(status, 204);
        let (status, problem) = admin.call(Method::GET, &format!("/admin/v1/clients/{id}"), None).await;
        assert_eq!((status, problem["detail"].as_str()), (StatusCode::NOT_FOUND, Some("No such client.")));

        // Users: create, sign in, set the password, delete.
        let (status, user) = admin
            .call(Method::POST, "/admin/v1/users", Some(json!({"username": "ivy", "password": PASSWORD, "email": "ivy@example.com"})))
            .await;
        assert_eq!(status, 201, "{user}");
        let sub = user["sub"].as_str().unwrap().to_owned();
        let (status, _) = admin
            .call(Method::POST, "/admin/v1/users", Some(json!({"username": "IVY", "password": PASSWORD})))
            .await;
        assert_eq!(status, 409, "usernames are unique ignoring case");
        let (status, _) = admin
            .call(Method::POST, "/admin/v1/users", Some(json!({"username": "jo", "password": "short"})))
            .await;
        assert_eq!(status, 400);
        assert_eq!(admin.get(&format!("/admin/v1/users/{sub}")).await["username"], "ivy");
        let (status, changed) = admin
            .call(Method::PATCH, &format!("/admin/v1/users/{sub}"), Some(json!({"name": "Ivy Example", "email": null})))
            .await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!((changed["name"].as_str(), changed["email"].as_str()), (Some("Ivy Example"), None));
        assert_eq!(admin.get(&format!("/admin/v1/users/{sub}")).await["name"], "Ivy Example");
        assert_eq!(admin.get("/admin/v1/users").await["items"].as_array().unwrap().len(), 1);
        let (status, _) = admin
            .call(Method::PUT, &format!("/admin/v1/users/{sub}/password"), Some(json!({"password": "another fine passphrase"})))
            .await;
        assert_eq!(status, 204);
        let login = Browser::new();
        let page = login.get(&server.url("/login")).await;
        let done = login
            .submit(&server.base, &page, "/login", &[("username", "ivy"), ("password", "another fine passphrase")])
            .await;
        assert_eq!(done.status, 303, "the new password signs in");

        // Scopes and keys.
        let (status, scope) = admin
            .call(Method::PUT, "/admin/v1/scopes/notes:write", Some(json!({"description": "Write your notes"})))
            .await;
        assert_eq!((status, &scope["description"]), (StatusCode::OK, &json!("Write your notes")));
        let scopes = admin.get("/admin/v1/scopes?limit=500").await;
        assert!(scopes["items"].as_array().unwrap().iter().any(|s| s["scope"] == "notes:write"));
        let (status, _) = admin
            .call(Method::PUT, "/admin/v1/scopes/bad%20scope", Some(json!({"description": "x"})))
            .await;
        assert_eq!(status, 400);
        let (status, _) = admin.call(Method::DELETE, "/admin/v1/scopes/openid", None).await;
        assert_eq!(status, 409, "built-in");
        let (status, problem) = admin.call(Method::DELETE, "/admin/v1/scopes/notes:read", None).await;
        assert_eq!(status, 409, "a client may still ask for it: {problem}");
        let (status, _) = admin
            .call(Method::PUT, "/admin/v1/scopes/reports:old", Some(json!({"description": "Old reports"})))
            .await;
        assert_eq!(status, 200);
        let (status, _) = admin.call(Method::DELETE, "/admin/v1/scopes/reports:old", None).await;
        assert_eq!(status, 204);
        let (status, _) = admin.call(Method::DELETE, "/admin/v1/scopes/reports:old", None).await;
        assert_eq!(status, 404);
        let keys = admin.get("/admin/v1/keys").await;
        let kid = keys[0]["kid"].as_str().unwrap();
        assert_eq!(admin.get(&format!("/admin/v1/keys/{kid}")).await["kid"], kid);
        let (status, _) = admin.call(Method::GET, "/admin/v1/keys/nope", None).await;
        assert_eq!(status, 404);
        assert_eq!(keys.as_array().unwrap().iter().filter(|k| k["state"] == "active").count(), 2);
        assert!(keys.as_array().unwrap().iter().all(|k| k.get("sealed_private").is_none()));
        let (status, rotated) = admin.call(Method::POST, "/admin/v1/keys/rotate", None).await;
        assert_eq!(status, 201);
        assert!(rotated.as_array().unwrap().iter().all(|k| k["state"] == "next"));
        let jwks = server.jwks().await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 4, "the next keys are published at once");

        let (status, _) = admin.call(Method::DELETE, &format!("/admin/v1/users/{sub}"), None).await;
        assert_eq!(status, 204);
        let (status, _) = admin.call(Method::GET, &format!("/admin/v1/users/{sub}"), None).await;
        assert_eq!(status, 404);

        // The audit trail names the operator for each change.
        let actor = format!("client:{}", operator_client.id);
        let mut changes = Vec::new();
        for _ in 0..50 {
            let events = admin.get(&format!("/admin/v1/audit?client_id={id}")).await;
            changes = events["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] != "token.issued")
                .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["actor"].as_str().unwrap().to_owned()))
                .collect::<Vec<_>>();
            if changes.len() >= 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            changes,
            [
                ("client.deleted".to_owned(), actor.clone()),
                ("client.secret_rotated".to_owned(), actor.clone()),
                ("client.updated".to_owned(), actor.clone()),
                ("client.created".to_owned(), actor.clone()),
            ]
        );
        let page = admin.get("/admin/v1/audit?limit=2").await;
        let older = admin.get(&format!("/admin/v1/audit?limit=2&after={}", page["next"])).await;
        assert!(older["items"][0]["id"].as_i64() < page["items"][1]["id"].as_i64(), "pages go back in time");
        let (status, _) = admin.call(Method::GET, "/admin/v1/audit?kind=token.stolen", None).await;
        assert_eq!(status, 400);
    }
}

backend_test! {
    async fn operators_revoke_by_user_client_and_grant(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let (admin, _) = operator(&server, "admin:write").await;
        let sub = server.user("kim", PASSWORD).await;
        let web = server.web_client(&["openid"]).await;
        let url = server.url(&format!("/oauth2/authorize?response_type=code&client_id={}&scope=openid", web.id));
        let browser = Browser::new();
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let code = browser.approve(&server, &url, ("kim", PASSWORD)).await["code"].clone();
            let body: Value = server
                .post_form("/oauth2/token", Some(&web), &[("grant_type", "authorization_code"), ("code", &code)])
                .await
                .json()
                .await
                .unwrap();
            tokens.push(body);
        }
        let active = |i: usize| {
            let token = tokens[i]["access_token"].as_str().unwrap().to_owned();
            let web = &web;
            let server = &server;
            async move { server.introspect(web, &token).await["active"] == true }
        };
        let grants = admin.get(&format!("/admin/v1/users/{sub}/grants")).await;
        assert_eq!(grants["items"][0]["client_id"], web.id.as_str());
        assert_eq!(grants["items"][0]["offline_access"], true);

        // By grant: the id access tokens carry in grant_id.
        let claims = crate::support::decode_part(tokens[0]["access_token"].as_str().unwrap(), 1);
        let grant = claims["grant_id"].as_str().unwrap();
        let (status, _) = admin.call(Method::POST, &format!("/admin/v1/grants/{grant}/revoke"), None).await;
        assert_eq!(status, 204);
        assert!(!active(0).await && active(1).await);
        let (status, _) = admin.call(Method::POST, "/admin/v1/grants/nope/revoke", None).await;
        assert_eq!(status, 404);

        // By client, then by user.
        let (status, revoked) = admin.call(Method::POST, &format!("/admin/v1/clients/{}/revoke-tokens", web.id), None).await;
        assert_eq!((status, revoked["revoked_grants"].as_u64()), (StatusCode::OK, Some(2)));
        assert!(!active(1).await && !active(2).await);
        let refresh = server
            .post_form("/oauth2/token", Some(&web), &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens[2]["refresh_token"].as_str().unwrap()),
            ])
            .await;
        assert_eq!(refresh.status(), 400, "the refresh token died with its grant");
        let code = browser.approve(&server, &url, ("kim", PASSWORD)).await["code"].clone();
        let fresh: Value = server
            .post_form("/oauth2/token", Some(&web), &[("grant_type", "authorization_code"), ("code", &code)])
            .await
            .json()
            .await
            .unwrap();
        let (_, revoked) = admin.call(Method::POST, &format!("/admin/v1/users/{sub}/revoke-tokens"), None).await;
        assert_eq!(revoked["revoked_grants"], 1);
        assert_eq!(server.introspect(&web, fresh["access_token"].as_str().unwrap()).await["active"], false);

        // Withdrawing the consent: the next authorization asks again.
        let (status, _) = admin.call(Method::DELETE, &format!("/admin/v1/users/{sub}/grants/{}", web.id), None).await;
        assert_eq!(status, 204);
        let again = browser.get(&url).await;
        assert!(again.html.contains(r#"value="allow""#), "consent is asked again");
        let (status, _) = admin.call(Method::DELETE, &format!("/admin/v1/users/{sub}/grants/{}", web.id), None).await;
        assert_eq!(status, 404);
    }
}

backend_test! {
    // Issue #9: roles and restricted scopes through the admin API, audited.
    async fn operators_manage_roles_and_restricted_scopes(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let (admin, _) = operator(&server, "admin:write").await;
        let dana = server.user("dana", PASSWORD).await;
        let (status, role) = admin
            .call(Method::PUT, "/admin/v1/roles/editor", Some(json!({"description": "Edits notes", "scopes": ["notes:write", "notes:read"]})))
            .await;
        assert_eq!(status, 200, "{role}");
        assert_eq!(role, json!({"name": "editor", "description": "Edits notes", "scopes": ["notes:read", "notes:write"]}));
        let (status, problem) = admin.call(Method::PUT, "/admin/v1/roles/Bad%20Name", Some(json!({"scopes": []}))).await;
        assert_eq!(status, 400, "{problem}");
        let (status, problem) = admin.call(Method::PUT, "/admin/v1/roles/x", Some(json!({"scopes": ["bad scope"]}))).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(admin.get("/admin/v1/roles").await["items"][0]["name"], "editor");

        let (status, scope) = admin
            .call(Method::PUT, "/admin/v1/scopes/notes:write", Some(json!({"description": "Change your notes", "restricted": true})))
            .await;
        assert_eq!((status.as_u16(), &scope["restricted"]), (200, &json!(true)), "{scope}");
        let listed = admin.get("/admin/v1/scopes?limit=100").await;
        let write = listed["items"].as_array().unwrap().iter().find(|s| s["scope"] == "notes:write").unwrap().clone();
        assert_eq!(write["restricted"], true);

        let path = format!("/admin/v1/users/{dana}/roles/editor");
        assert_eq!(admin.call(Method::PUT, &path, None).await.0, 204);
        assert_eq!(admin.get(&format!("/admin/v1/users/{dana}/roles")).await[0]["name"], "editor");
        assert_eq!(admin.call(Method::PUT, &format!("/admin/v1/users/{dana}/roles/nobody"), None).await.0, 404);
        assert_eq!(admin.call(Method::PUT, "/admin/v1/users/no-such-user/roles/editor", None).await.0, 404);
        assert_eq!(admin.call(Method::DELETE, &path, None).await.0, 204);
        assert_eq!(admin.call(Method::DELETE, &path, None).await.0, 404);
        assert_eq!(admin.get(&format!("/admin/v1/users/{dana}/roles")).await, json!([]));
        assert_eq!(admin.call(Method::DELETE, "/admin/v1/roles/editor", None).await.0, 204);
        assert_eq!(admin.call(Method::DELETE, "/admin/v1/roles/editor", None).await.0, 404);
        assert_eq!(admin.call(Method::DELETE, "/admin/v1/scopes/roles", None).await.0, 409, "built in");

        // Second factors: none yet, then an app and a passkey (through the store); shown
        // without secrets, then removed together.
        let mfa = format!("/admin/v1/users/{dana}/mfa");
        assert_eq!(admin.get(&mfa).await, json!({"totp": false, "recovery_codes_left": 0, "passkeys": []}));
        assert_eq!(admin.call(Method::GET, "/admin/v1/users/nobody/mfa", None).await.0, 404);
        assert_eq!(admin.call(Method::DELETE, &mfa, None).await.0, 404);
        let dana_id = latchkey_core::id::UserId::new(dana.clone());
        server.store().begin_totp(&dana_id, b"sealed", latchkey_core::Timestamp::from_secs(1)).await.unwrap();
        server.store().use_totp_step(&dana_id, 1).await.unwrap();
        let passkey = latchkey_core::store::Passkey {
            credential_id: vec![1, 2, 3],
            user_id: dana_id.clone(),
            name: "Phone".into(),
            public_key: vec![0xa0],
            algorithm: -7,
            sign_count: 0,
            backup_eligible: true,
            created_at: latchkey_core::Timestamp::from_secs(5),
            last_used_at: None,
        };
        server.store().add_passkey(&passkey).await.unwrap();
        assert_eq!(
            admin.get(&mfa).await,
            json!({"totp": true, "recovery_codes_left": 0, "passkeys": [{
                "credential_id": "AQID", "name": "Phone", "algorithm": -7, "synced": true,
                "created_at": 5, "last_used_at": null,
            }]})
        );
        assert_eq!(admin.call(Method::DELETE, &mfa, None).await.0, 204);
        assert!(server.store().find_totp(&dana_id).await.unwrap().is_none());
        assert!(server.store().list_passkeys(&dana_id).await.unwrap().is_empty());

        // Upstream providers: the secret is taken, sealed, and never shown.
        let (status, provider) = admin
            .call(Method::PUT, "/admin/v1/providers/corp", Some(json!({
                "name": "Corp", "issuer": "https://id.corp.example", "client_id": "lk", "client_secret": "s3cret",
            })))
            .await;
        assert_eq!(status, 200, "{provider}");
        assert_eq!(provider["scopes"], "openid email profile");
        assert_eq!(provider["redirect_uri"], format!("{}/login/upstream/corp/callback", server.issuer));
        assert!(!provider.to_string().contains("s3cret"));
        let (status, problem) = admin
            .call(Method::PUT, "/admin/v1/providers/corp", Some(json!({
                "name": "Corp", "issuer": "https://id.corp.example/", "client_id": "lk", "client_secret": "s",
            })))
            .await;
        assert_eq!(status, 400, "{problem}");
        let listed = admin.get("/admin/v1/providers").await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert!(!listed.to_string().contains("s3cret"));
        assert_eq!(admin.call(Method::DELETE, "/admin/v1/providers/corp", None).await.0, 204);
        assert_eq!(admin.call(Method::DELETE, "/admin/v1/providers/corp", None).await.0, 404);

        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let audit = admin.get("/admin/v1/audit?limit=100").await;
        let kinds: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
        assert!(kinds.contains(&"role.granted") && kinds.contains(&"role.revoked") && kinds.contains(&"mfa.removed"), "{kinds:?}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_only_those() {
    let server = TestServer::start_on(crate::support::Backend::Sqlite).await;
    let response = server
        .http
        .get(server.url("/admin/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Every documented operation is served (401 without a token, not 404 or 405).
    for (method, path) in &documented {
        let concrete = path
            .replace("{client_id}", "c")
            .replace("{user_id}", "u")
            .replace("{grant_id}", "g")
            .replace("{scope}", "s")
            .replace("{name}", "r")
            .replace("{id}", "p")
            .replace("{kid}", "k");
        let response = server
            .http
            .request(method.to_uppercase().parse().unwrap(), server.url(&concrete))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    let unknown = server
        .http
        .get(server.url("/admin/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn with_an_admin_listener_the_admin_api_is_served_there_only() {
    let server = TestServer::start_with_admin_listener().await;
    let admin_base = server.admin_base.clone().unwrap();
    let (admin, _) = operator(&server, "admin:read").await;
    let public = server
        .http
        .get(server.url("/admin/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let listed = server
        .http
        .get(format!("{admin_base}/admin/v1/clients"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let (status, _) = admin.call(Method::GET, "/admin/v1/clients", None).await;
    assert_eq!(status, 404, "not on the public listener");
}

backend_test! {
    async fn the_posture_report_finds_implicit_clients_and_unused_scopes(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let (admin, _) = operator(&server, "admin:read").await;
        let legacy = server
            .register(|r| {
                r.name = "Legacy SPA".into();
                r.public = true;
                r.grant_types = vec!["implicit".into()];
                r.redirect_uris = vec!["https://spa.example.com/cb".into()];
                r.scopes = vec!["openid".into()];
            })
            .await;
        let job = server.service_client(&["notes:read", "notes:write"]).await;
        // A month later the job has only ever asked for notes:read.
        server.clock.advance(std::time::Duration::from_secs(31 * 86_400));
        let admin = Admin { token: server.token(&admin_client(&server).await, Some("admin:read")).await, ..admin };
        server.token(&job, Some("notes:read")).await;

        // Audit events are written in batches: wait until the job's issuance is stored.
        for _ in 0..50 {
            let issued = admin
                .get(&format!("/admin/v1/audit?kind=token.issued&client_id={}", job.id))
                .await;
            if !issued["items"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let report = admin.get("/admin/v1/doctor").await;
        let findings = report["findings"].as_array().unwrap();
        let find = |check: &str, subject: &str| {
            findings
                .iter()
                .find(|f| f["check"] == check && f["subject"] == subject)
                .unwrap_or_else(|| panic!("no {check} for {subject}: {report}"))
        };
        let implicit = find("implicit-grant", &format!("client:{}", legacy.id));
        assert_eq!(implicit["severity"], "medium");
        assert!(implicit["reason"].as_str().unwrap().contains("RFC 9700"));
        let over = find("over-scoped-client", &format!("client:{}", job.id));
        assert!(over["problem"].as_str().unwrap().contains("notes:write"), "{over}");
        assert!(!over["problem"].as_str().unwrap().contains("notes:read "), "{over}");
        assert_eq!(report["high"], 0, "a loopback issuer in a test is fine: {report}");
    }
}

/// A second operator client (the first one's token may be from before a clock jump).
async fn admin_client(server: &TestServer) -> Registered {
    server.service_client(&["admin:read"]).await
}
