//! Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS.

use serde_json::Value;

use crate::support::TestServer;
use crate::support::backend_test;

async fn get_json(server: &TestServer, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = server.http.get(server.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

backend_test! {
    async fn both_metadata_documents_advertise_exactly_what_is_implemented(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        for path in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            let (headers, doc) = get_json(&server, path).await;
            assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
            assert_eq!(doc["issuer"], server.base);
            assert_eq!(
                doc["grant_types_supported"],
                serde_json::json!([
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "implicit",
                    "urn:ietf:params:oauth:grant-type:device_code"
                ])
            );
            assert_eq!(
                doc["code_challenge_methods_supported"],
                serde_json::json!(["S256"]),
                "never plain"
            );
            assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
            assert_eq!(
                doc["introspection_endpoint_auth_methods_supported"],
                serde_json::json!(["client_secret_basic", "client_secret_post"])
            );
            for field in ["end_session_endpoint", "registration_endpoint"] {
                assert!(doc.get(field).is_none(), "{field} is not implemented yet");
            }
            // Every advertised endpoint exists and answers on its own path.
            for field in [
                "authorization_endpoint",
                "token_endpoint",
                "introspection_endpoint",
                "revocation_endpoint",
                "userinfo_endpoint",
                "device_authorization_endpoint",
            ] {
                let url = doc[field].as_str().unwrap();
                assert!(url.starts_with(&server.base), "{field}");
                let response = server.http.post(url).form(&[("x", "y")]).send().await.unwrap();
                assert_ne!(response.status(), 404, "{field}");
            }
            let jwks_uri = doc["jwks_uri"].as_str().unwrap();
            assert_eq!(server.http.get(jwks_uri).send().await.unwrap().status(), 200);
        }
    }
}

backend_test! {
    async fn the_jwks_publishes_one_es256_and_one_rs256_key_with_cache_headers(backend) {
        let server = TestServer::start_on(backend.clone()).await;
        let (headers, jwks) = get_json(&server, "/.well-known/jwks.json").await;
        assert_eq!(headers["cache-control"], "public, max-age=300");
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert!(algs.contains(&"ES256") && algs.contains(&"RS256"));
        for key in keys {
            assert_eq!(key["use"], "sig");
            assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(key.get(private).is_none(), "no private member {private}");
            }
        }
        let rsa = keys.iter().find(|k| k["alg"] == "RS256").unwrap();
        assert_eq!(rsa["kty"], "RSA");
        assert_eq!(rsa["e"], "AQAB");
        assert!(rsa["n"].as_str().unwrap().len() >= 342, "2048-bit modulus");
    }
}
