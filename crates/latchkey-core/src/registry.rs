//! The client registry's admin operations: registration with metadata validation, secret
//! rotation, deletion, and scope descriptions. Used by the `latchkey client` commands.

use crate::client::{AuthMethod, Client, GrantType, RedirectUri};
use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::id::ClientId;
use crate::keys::Algorithm;
use crate::scope::{Scope, ScopeSet};
use crate::secret::{ClientSecret, SecretHasher};
use crate::store::Store;

/// A registration request as an administrator typed it.
#[derive(Debug, Default, Clone)]
pub struct ClientRegistration {
    /// `client_name`.
    pub name: String,
    /// Grant type names; empty means the default for the client's shape.
    pub grant_types: Vec<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scope names, one each.
    pub scopes: Vec<String>,
    /// Whether the client is public.
    pub public: bool,
    /// The auth method name, if given.
    pub auth_method: Option<String>,
    /// The ID-token algorithm (RS256 or ES256), if given.
    pub id_token_alg: Option<String>,
}

/// Why an admin operation on clients failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The metadata makes no sense; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// No client has that id.
    #[error("no client with id {0}")]
    NotFound(String),
    /// The operation needs a confidential client.
    #[error("client {0} is public and has no secret")]
    PublicClient(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The metadata of a registration, validated: everything but id, secret and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMetadata {
    /// `client_name`.
    pub name: String,
    /// Auth method.
    pub auth_method: AuthMethod,
    /// Grant types, deduplicated, in canonical order.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs, in the order given.
    pub redirect_uris: Vec<RedirectUri>,
    /// Allowed scopes.
    pub scopes: ScopeSet,
    /// ID-token signing algorithm.
    pub id_token_alg: Algorithm,
}

impl ClientRegistration {
    /// Checks the metadata and refuses nonsense with one clear sentence.
    pub fn validate(&self) -> Result<ValidMetadata, RegistryError> {
        let invalid = |msg: String| Err(RegistryError::Invalid(msg));
        let name = self.name.trim();
        if name.is_empty() {
            return invalid("the client name may not be empty".into());
        }
        if name.chars().count() > 200 || name.chars().any(char::is_control) {
            return invalid(
                "the client name must be at most 200 characters without control characters".into(),
            );
        }
        let auth_method = match (self.public, self.auth_method.as_deref()) {
            (_, Some(method)) => method.parse::<AuthMethod>().map_err(RegistryError::Invalid)?,
            (true, None) => AuthMethod::None,
            (false, None) => AuthMethod::ClientSecretBasic,
        };
        if self.public && auth_method != AuthMethod::None {
            return invalid(format!(
                "a public client has no secret, so it cannot use {auth_method}"
            ));
        }
        let public = auth_method == AuthMethod::None;

        let redirect_uris = self
            .redirect_uris
            .iter()
            .map(|uri| RedirectUri::parse(uri).map_err(RegistryError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let mut grant_types = self
            .grant_types
            .iter()
            .map(|g| g.parse::<GrantType>().map_err(RegistryError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        if grant_types.is_empty() {
            grant_types.push(if !redirect_uris.is_empty() {
                GrantType::AuthorizationCode
            } else if !public {
                GrantType::ClientCredentials
            } else {
                return invalid("a public client needs at least one --grant-type".into());
            });
        }
        grant_types.sort();
        grant_types.dedup();
        check_grant_consistency(&grant_types, public, !redirect_uris.is_empty())?;

        let scopes = self
            .scopes
            .iter()
            .map(|s| Scope::parse(s).map_err(|e| RegistryError::Invalid(e.to_string())))
            .collect::<Result<ScopeSet, _>>()?;
        let id_token_alg = match self.id_token_alg.as_deref() {
            None => Algorithm::Rs256,
            Some(alg) => alg.parse::<Algorithm>().map_err(RegistryError::Invalid)?,
        };
        Ok(ValidMetadata {
            name: name.to_owned(),
            auth_method,
            grant_types,
            redirect_uris,
            scopes,
            id_token_alg,
        })
    }
}

fn check_grant_consistency(
    grants: &[GrantType],
    public: bool,
    has_redirects: bool,
) -> Result<(), RegistryError> {
    let has = |g| grants.contains(&g);
    let redirecting = has(GrantType::AuthorizationCode) || has(GrantType::Implicit);
    let invalid = |msg: &str| Err(RegistryError::Invalid(msg.to_owned()));
    if public && has(GrantType::ClientCredentials) {
        return invalid(
            "client_credentials needs a confidential client: a public client cannot keep a secret",
        );
    }
    if redirecting && !has_redirects {
        return invalid("authorization_code and implicit need at least one --redirect-uri");
    }
    if has_redirects && !redirecting {
        return invalid(
            "redirect URIs are used only by authorization_code and implicit; add one of those grant types or drop the URIs",
        );
    }
    if has(GrantType::RefreshToken) && !(has(GrantType::AuthorizationCode) || has(GrantType::DeviceCode)) {
        return invalid(
            "refresh_token is issued only with authorization_code or the device grant; register one of them too",
        );
    }
    Ok(())
}

/// Registers a client. Returns it and, for a confidential client, its secret in the clear:
/// the only time the secret exists outside the client's hands.
pub async fn register_client(
    store: &dyn Store,
    hasher: &SecretHasher,
    registration: &ClientRegistration,
    now: Timestamp,
) -> Result<(Client, Option<ClientSecret>), RegistryError> {
    let meta = registration.validate()?;
    let secret = (meta.auth_method != AuthMethod::None).then(ClientSecret::generate);
    let client = Client {
        id: ClientId::generate(),
        name: meta.name,
        auth_method: meta.auth_method,
        grant_types: meta.grant_types,
        redirect_uris: meta.redirect_uris,
        secret_hash: secret.as_ref().map(|s| hasher.hash(s)),
        scopes: meta.scopes,
        created_at: now,
        id_token_alg: meta.id_token_alg,
    };
    store.ensure_scopes(&client.scopes).await?;
    store.insert_client(&client).await?;
    Ok((client, secret))
}

/// Changes a client's metadata. `registration` is the whole new metadata; the auth method
/// (and so public or confidential) cannot change, and neither can the id or secret.
pub async fn update_client(
    store: &dyn Store,
    id: &ClientId,
    registration: &ClientRegistration,
) -> Result<Client, RegistryError> {
    let current = store
        .find_client(id)
        .await?
        .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
    let mut registration = registration.clone();
    registration.public = current.is_public();
    registration.auth_method = Some(current.auth_method.as_str().to_owned());
    let meta = registration.validate()?;
    let updated = Client {
        name: meta.name,
        grant_types: meta.grant_types,
        redirect_uris: meta.redirect_uris,
        scopes: meta.scopes,
        id_token_alg: meta.id_token_alg,
        ..current
    };
    store.ensure_scopes(&updated.scopes).await?;
    if !store.update_client(&updated).await? {
        return Err(RegistryError::NotFound(id.to_string()));
    }
    Ok(updated)
}

/// Replaces a confidential client's secret; the old one stops working (within the
/// server's client cache lifetime). Returns the new secret, shown once.
pub async fn rotate_client_secret(
    store: &dyn Store,
    hasher: &SecretHasher,
    id: &ClientId,
) -> Result<ClientSecret, RegistryError> {
    let client = store
        .find_client(id)
        .await?
        .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
    if client.is_public() {
        return Err(RegistryError::PublicClient(id.to_string()));
    }
    let secret = ClientSecret::generate();
    if !store.replace_client_secret(id, &hasher.hash(&secret)).await? {
        return Err(RegistryError::NotFound(id.to_string()));
    }
    Ok(secret)
}

/// A client as RFC 7591 §3.2.1 client information (the secret only when just issued).
pub fn client_metadata(client: &Client, secret: Option<&ClientSecret>) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "client_id": client.id.as_str(),
        "client_id_issued_at": client.created_at.as_secs(),
        "client_name": client.name,
        "redirect_uris": client.redirect_uris.iter().map(crate::client::RedirectUri::as_str).collect::<Vec<_>>(),
        "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": client.scopes.to_string(),
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "id_token_signed_response_alg": client.id_token_alg.as_str(),
    });
    if let (Some(secret), serde_json::Value::Object(members)) = (secret, &mut doc) {
        members.insert("client_secret".into(), serde_json::json!(secret.expose()));
        members.insert("client_secret_expires_at".into(), serde_json::json!(0));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(f: impl FnOnce(&mut ClientRegistration)) -> Result<ValidMetadata, RegistryError> {
        let mut registration = ClientRegistration {
            name: "App".into(),
            ..Default::default()
        };
        f(&mut registration);
        registration.validate()
    }

    type Edit = Box<dyn FnOnce(&mut ClientRegistration)>;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_bare_confidential_client_defaults_to_client_credentials_with_basic_auth() {
        let meta = reg(|_| {}).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.grant_types, [GrantType::ClientCredentials]);
        assert_eq!(meta.auth_method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn redirect_uris_default_to_authorization_code() {
        let meta = reg(|r| r.redirect_uris = strings(&["https://app.example.com/cb"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.grant_types, [GrantType::AuthorizationCode]);
    }

    #[test]
    fn inconsistent_metadata_is_refused() {
        let cases: Vec<Edit> = vec![
            Box::new(|r| r.name = "  ".into()),
            Box::new(|r| r.name = "a\u{7}".into()),
            Box::new(|r| {
                r.public = true;
                r.grant_types = strings(&["client_credentials"]);
            }),
            Box::new(|r| r.public = true),
            Box::new(|r| {
                r.public = true;
                r.auth_method = Some("client_secret_post".into());
            }),
            Box::new(|r| r.grant_types = strings(&["authorization_code"])),
            Box::new(|r| r.grant_types = strings(&["password"])),
            Box::new(|r| r.grant_types = strings(&["client_credentials", "refresh_token"])),
            Box::new(|r| {
                r.grant_types = strings(&["client_credentials"]);
                r.redirect_uris = strings(&["https://app.example.com/cb"]);
            }),
            Box::new(|r| r.redirect_uris = strings(&["javascript:alert(1)"])),
            Box::new(|r| r.scopes = strings(&["bad scope"])),
            Box::new(|r| r.auth_method = Some("private_key_jwt".into())),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            assert!(matches!(reg(case), Err(RegistryError::Invalid(_))), "case {i}");
        }
    }

    #[test]
    fn auth_method_none_makes_a_public_client() {
        let meta = reg(|r| {
            r.auth_method = Some("none".into());
            r.grant_types = strings(&["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.auth_method, AuthMethod::None);
    }
}
