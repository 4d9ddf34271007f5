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
    /// RFC 6749 §3.1.
    pub const AUTHORIZE: &str = "/oauth2/authorize";
    /// OpenID Connect Core §5.3.
    pub const USERINFO: &str = "/oauth2/userinfo";
    /// RFC 8628 §3.1.
    pub const DEVICE_AUTHORIZATION: &str = "/oauth2/device_authorization";
    /// RFC 8628 §3.3: where the user enters the code.
    pub const DEVICE: &str = "/device";
    /// The login page.
    pub const LOGIN: &str = "/login";
    /// Ends the browser session.
    pub const LOGOUT: &str = "/logout";
    /// RFC 8414 §3.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// OpenID Connect Discovery §4.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
}

const CONFIDENTIAL_AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];
const ALL_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

/// The RFC 8414 metadata document.
pub fn authorization_server_metadata(config: &AuthConfig) -> Value {
    let url = |path: &str| format!("{}{path}", config.issuer);
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": url(paths::AUTHORIZE),
        "token_endpoint": url(paths::TOKEN),
        "jwks_uri": url(paths::JWKS),
        "userinfo_endpoint": url(paths::USERINFO),
        "device_authorization_endpoint": url(paths::DEVICE_AUTHORIZATION),
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "implicit",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "response_types_supported": ["code", "token", "id_token token"],
        "response_modes_supported": ["query", "fragment"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "profile", "email", "offline_access", "roles"],
        "token_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "introspection_endpoint": url(paths::INTROSPECT),
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "revocation_endpoint": url(paths::REVOKE),
        "revocation_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
    })
}

/// The OpenID Connect discovery document: the RFC 8414 facts plus what OpenID adds.
pub fn openid_configuration(config: &AuthConfig) -> Value {
    let mut doc = authorization_server_metadata(config);
    if let Value::Object(members) = &mut doc {
        members.insert("subject_types_supported".into(), json!(["public"]));
        members.insert(
            "id_token_signing_alg_values_supported".into(),
            json!(["RS256", "ES256"]),
        );
        members.insert(
            "acr_values_supported".into(),
            json!([crate::mfa::ACR_PASSWORD, crate::mfa::ACR_MFA]),
        );
        members.insert(
            "prompt_values_supported".into(),
            json!(["none", "login", "consent", "select_account"]),
        );
        members.insert(
            "claims_supported".into(),
            json!([
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "amr",
                "acr",
                "nonce",
                "at_hash",
                "azp",
                "name",
                "preferred_username",
                "email",
                "email_verified",
                config.roles_claim.as_str()
            ]),
        );
        members.insert("request_parameter_supported".into(), json!(false));
        members.insert("request_uri_parameter_supported".into(), json!(false));
        members.insert("claims_parameter_supported".into(), json!(false));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_under_the_issuer_and_nothing_unimplemented_is_advertised() {
        let config = AuthConfig::with_defaults("https://id.example.com");
        let doc = authorization_server_metadata(&config);
        assert_eq!(doc["token_endpoint"], "https://id.example.com/oauth2/token");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["device_authorization_endpoint"],
            "https://id.example.com/oauth2/device_authorization"
        );
        assert!(
            doc.get("subject_types_supported").is_none(),
            "OpenID fields only in the OpenID document"
        );
        let oidc = openid_configuration(&config);
        assert_eq!(
            oidc["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
    }
}
