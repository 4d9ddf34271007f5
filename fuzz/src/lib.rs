//! Fixtures shared by the fuzz targets: a key ring holding real keys (so forged tokens
//! reach signature checks), a genuine token to mutate, and registered clients.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::{ClientId, Kid};
use latchkey_core::keys::{Algorithm, KeyRing, KeySealer, RotationPolicy, StoredKey};
use latchkey_core::scope::ScopeSet;
use latchkey_core::secret::MasterKey;
use latchkey_core::store::KeyStore;
use latchkey_core::token::jws;

/// The time every target runs at.
pub const NOW: i64 = 1_700_000_000;

/// Keys in memory: just enough store for a [`KeyRing`].
#[derive(Default)]
struct MemoryKeys(Mutex<Vec<StoredKey>>);

#[async_trait]
impl KeyStore for MemoryKeys {
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn delete_key(&self, kid: &Kid) -> Result<(), StoreError> {
        self.0.lock().unwrap().retain(|k| &k.kid != kid);
        Ok(())
    }
}

/// A ring with one active ES256 and one active RS256 key, and an access token
/// (`typ: at+jwt`) signed by the ES256 key.
pub struct Keys {
    pub ring: KeyRing,
    pub token: String,
    pub claims: serde_json::Value,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = MemoryKeys::default();
        let sealer = Arc::new(KeySealer::new(&MasterKey::generate()).unwrap());
        let ring = KeyRing::new(
            sealer,
            RotationPolicy {
                prepublish: Duration::ZERO,
                retention: Duration::from_secs(3600),
            },
        );
        let then = Timestamp::from_secs(NOW - 60);
        runtime.block_on(async {
            ring.rotate(&store, Algorithm::Es256, then).await.unwrap();
            ring.rotate(&store, Algorithm::Rs256, then).await.unwrap();
        });
        let claims = serde_json::json!({
            "iss": "https://issuer.example", "sub": "alice", "aud": "api",
            "iat": NOW - 10, "exp": NOW + 300, "scope": "notes:read",
        });
        let key = ring.signing_key(Algorithm::Es256, Timestamp::from_secs(NOW)).unwrap();
        let token = jws::sign(&key, "at+jwt", &claims).unwrap();
        Keys { ring, token, claims }
    })
}

fn client(id: &str, auth: AuthMethod, grants: &[GrantType], uris: &[&str], scopes: &str) -> Arc<Client> {
    Arc::new(Client {
        id: ClientId::new(id),
        name: id.to_owned(),
        auth_method: auth,
        grant_types: grants.to_vec(),
        redirect_uris: uris.iter().map(|u| RedirectUri::parse(u).unwrap()).collect(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        secret_hash: None,
        created_at: Timestamp::from_secs(NOW - 3600),
        id_token_alg: Algorithm::Rs256,
    })
}

/// A confidential web app, a public native app (loopback redirect) and a legacy
/// implicit client.
pub fn clients() -> &'static [Arc<Client>; 3] {
    static CLIENTS: OnceLock<[Arc<Client>; 3]> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        use GrantType::*;
        [
            client(
                "web",
                AuthMethod::ClientSecretBasic,
                &[AuthorizationCode, RefreshToken],
                &["https://app.example.com/cb", "https://app.example.com/cb?tenant=1"],
                "openid profile email offline_access notes:read",
            ),
            client(
                "native",
                AuthMethod::None,
                &[AuthorizationCode],
                &["http://127.0.0.1:4000/cb", "com.example.app:/oauth2redirect"],
                "openid notes:read",
            ),
            client(
                "legacy",
                AuthMethod::None,
                &[Implicit],
                &["https://legacy.example.com/cb"],
                "openid profile",
            ),
        ]
    })
}

/// `uri` without the `:port` after a loopback host, if it is a loopback `http` URI.
pub fn portless(uri: &str) -> Option<String> {
    for host in ["http://127.0.0.1", "http://[::1]"] {
        if let Some(rest) = uri.strip_prefix(host) {
            let rest = match rest.strip_prefix(':') {
                Some(p) => p.trim_start_matches(|c: char| c.is_ascii_digit()),
                None => rest,
            };
            return Some(format!("{host}{rest}"));
        }
    }
    None
}
