//! Bad input gets the RFC's error as JSON with the right status: never a panic, never a 500.

use crate::support::{Backend, Registered, TestServer, assert_oauth_error, backend_test};

const ENDPOINTS: [&str; 3] = ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"];

async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let client = server.service_client(&[]).await;
    let mut request = server
        .http
        .post(server.url(path))
        .basic_auth(&client.id, Some(&client.secret))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

backend_test! {
    async fn duplicate_parameters_are_invalid_requests(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        for path in ENDPOINTS {
            let body = b"grant_type=client_credentials&token=a&token=b&grant_type=client_credentials".to_vec();
            assert_oauth_error(post_raw(&server, path, FORM, body).await, 400, "invalid_request").await;
        }
    }
}

backend_test! {
    async fn bodies_over_64_kib_get_413(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        for path in ENDPOINTS {
            let mut body = b"grant_type=client_credentials&scope=".to_vec();
            body.extend(std::iter::repeat_n(b'a', 70 * 1024));
            assert_oauth_error(post_raw(&server, path, FORM, body).await, 413, "invalid_request").await;
        }
    }
}

backend_test! {
    async fn a_body_just_under_the_limit_is_read(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let mut body = b"grant_type=client_credentials&padding=".to_vec();
        body.extend(std::iter::repeat_n(b'a', 60 * 1024));
        let response = post_raw(&server, "/oauth2/token", FORM, body).await;
        assert_eq!(response.status(), 200);
    }
}

backend_test! {
    async fn missing_or_wrong_content_types_are_400_json(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        for path in ENDPOINTS {
            let body = b"grant_type=client_credentials&token=x".to_vec();
            assert_oauth_error(
                post_raw(&server, path, None, body.clone()).await,
                400,
                "invalid_request",
            )
            .await;
            let json = post_raw(
                &server,
                path,
                Some("application/json"),
                br#"{"grant_type":"client_credentials"}"#.to_vec(),
            );
            assert_oauth_error(json.await, 400, "invalid_request").await;
            let multipart = post_raw(&server, path, Some("multipart/form-data; boundary=x"), body).await;
            assert_oauth_error(multipart, 400, "invalid_request").await;
        }
    }
}

backend_test! {
    async fn non_utf8_and_malformed_forms_are_400_json(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let bodies: [&[u8]; 4] = [
            b"grant_type=client_credentials&scope=%FF%FE",
            b"grant_type=client_credentials&scope=\xff\xfe",
            b"grant_type=%C3%28",
            b"\x00\x01\x02=\x03",
        ];
        for body in bodies {
            let response = post_raw(&server, "/oauth2/token", FORM, body.to_vec()).await;
            let status = response.status().as_u16();
            assert_eq!(status, 400, "{body:?}");
            let json: serde_json::Value = response.json().await.unwrap();
            assert!(json["error"].is_string(), "{body:?}");
        }
        let charset = post_raw(
            &server,
            "/oauth2/token",
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            b"grant_type=client_credentials".to_vec(),
        )
        .await;
        assert_eq!(
            charset.status(),
            200,
            "content type parameters and case are tolerated"
        );
    }
}

backend_test! {
    async fn attack_strings_in_parameters_are_refused_cleanly(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let client = server.service_client(&["a"]).await;
        let long = "x".repeat(10_000);
        for value in [
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "\u{0}",
            long.as_str(),
        ] {
            for name in ["grant_type", "scope"] {
                let mut form = vec![("grant_type", "client_credentials")];
                form.retain(|(n, _)| *n != name);
                form.push((name, value));
                let response = server.post_form("/oauth2/token", Some(&client), &form).await;
                assert!(response.status().is_client_error(), "{name}={value:.20}");
                let body: serde_json::Value = response.json().await.unwrap();
                let description = body["error_description"].as_str().unwrap();
                assert!(
                    !description.contains("<script>"),
                    "descriptions never echo markup: {description}"
                );
            }
        }
    }
}

backend_test! {
    async fn unknown_paths_and_wrong_methods_answer_json(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let response = server.http.get(server.url("/nope")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["error"],
            "not_found"
        );
        let response = server.http.get(server.url("/oauth2/token")).send().await.unwrap();
        assert_eq!(response.status(), 405);
        assert!(response.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    }
}

backend_test! {
    async fn health_and_readiness_probes_answer(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let health = server.http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        assert_eq!(
            ready.json::<serde_json::Value>().await.unwrap()["status"],
            "ready"
        );
    }
}

#[tokio::test]
async fn when_the_database_goes_away_requests_get_503_json_and_service_resumes_by_itself() {
    let Some(Backend::Postgres(base)) = Backend::postgres() else {
        eprintln!("skipped: LATCHKEY_TEST_POSTGRES_URL unset");
        return;
    };
    let (server, proxy) = TestServer::start_behind_proxy(&base).await;
    let client = server.service_client(&[]).await;
    let token = server.token(&client, None).await;
    assert_eq!(
        server
            .http
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    proxy.cut();
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "unavailable"
    );
    let stranger = Registered {
        id: "not-cached".into(),
        secret: "x".into(),
    };
    let response = server
        .post_form(
            "/oauth2/token",
            Some(&stranger),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_oauth_error(response, 503, "temporarily_unavailable").await;
    assert_eq!(
        server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process is up"
    );

    proxy.restore();
    let mut ready = 0;
    for _ in 0..50 {
        ready = server
            .http
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(ready, 200, "service resumes by itself");
    assert_eq!(
        server.introspect(&client, &token).await["active"],
        true,
        "nothing committed was lost"
    );
    let again = server.service_client(&["fresh"]).await;
    assert!(!server.token(&again, Some("fresh")).await.is_empty());
}
