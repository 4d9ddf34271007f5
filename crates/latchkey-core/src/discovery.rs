//! Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0, built from
//! what is implemented: a client may rely on every field, so nothing is advertised ahead.

use serde_json::{Value, json};

use crate::context::AuthConfig;

/// Where each endpoint lives, relative to the issuer.
pub mod paths {
    /// RFC 6749 §3.2.
    pub const TOKEN: &str = "/oauth2/token";
    /// RFC 7662.
    pub const INTROSPECT: &str = "/oauth2/introspect";
    /// RFC 7009.
    pub const REVOKE: &str = "/oauth2/revoke";
    /// RFC 7517.
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// RFC 8414 §3.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// OpenID Connect Discovery §4.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
}

const CLIENT_AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The RFC 8414 metadata document.
pub fn authorization_server_metadata(config: &AuthConfig) -> Value {
    let url = |path: &str| format!("{}{path}", config.issuer);
    json!({
        "issuer": config.issuer,
        "token_endpoint": url(paths::TOKEN),
        "jwks_uri": url(paths::JWKS),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint": url(paths::INTROSPECT),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": url(paths::REVOKE),
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    })
}

/// The OpenID Connect discovery document: the same facts, at the OpenID location. Fields
/// that only make sense once ID tokens are issued arrive with the browser flows.
pub fn openid_configuration(config: &AuthConfig) -> Value {
    authorization_server_metadata(config)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_endpoint_is_under_the_issuer_and_nothing_unimplemented_is_advertised() {
        let config = AuthConfig {
            issuer: "https://id.example.com".into(),
            default_audience: "https://id.example.com".into(),
            access_token_ttl: Duration::from_secs(900),
            cache_ttl: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(300),
            key_prepublish: Duration::from_secs(3600),
            key_refresh: Duration::from_secs(30),
        };
        let doc = authorization_server_metadata(&config);
        assert_eq!(doc["token_endpoint"], "https://id.example.com/oauth2/token");
        assert_eq!(doc["grant_types_supported"], json!(["client_credentials"]));
        assert!(doc.get("authorization_endpoint").is_none());
        assert!(doc.get("code_challenge_methods_supported").is_none());
    }
}
