//! The store contract: one suite written against `&dyn Store`, run for every backend, so
//! each implementation behaves the same. (Queries are checked at run time, so this suite is
//! the safety net that compile-time checking would otherwise be.)
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a failed step is a failed test"
)]

use std::sync::Arc;

use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::id::{ClientId, Jti, Kid};
use latchkey_core::keys::{Algorithm, StoredKey};
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::SecretHash;
use latchkey_core::store::Store;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn client(id: &str, secret: Option<&[u8]>) -> Client {
    Client {
        id: ClientId::new(id),
        name: format!("Client {id}"),
        auth_method: if secret.is_some() {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::None
        },
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec![
            RedirectUri::parse("https://app.example.com/cb").unwrap(),
            RedirectUri::parse("http://127.0.0.1:9000/cb").unwrap(),
        ],
        scopes: ScopeSet::parse("notes:read openid").unwrap(),
        secret_hash: secret.map(|s| SecretHash::from_bytes(s.to_vec())),
        created_at: t(100),
        id_token_alg: Algorithm::Es256,
    }
}

async fn clients_round_trip_and_conflict(store: &dyn Store) {
    let confidential = client("c1", Some(b"hash-1"));
    store.insert_client(&confidential).await.unwrap();
    store.insert_client(&client("p1", None)).await.unwrap();
    assert!(matches!(
        store.insert_client(&confidential).await,
        Err(StoreError::Conflict(_))
    ));

    let found = store.find_client(&ClientId::new("c1")).await.unwrap().unwrap();
    assert_eq!(found.name, "Client c1");
    assert_eq!(found.auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(found.grant_types, confidential.grant_types);
    assert_eq!(found.redirect_uris, confidential.redirect_uris);
    assert_eq!(found.scopes, confidential.scopes);
    assert_eq!(
        found.secret_hash,
        Some(SecretHash::from_bytes(b"hash-1".to_vec()))
    );
    assert_eq!(found.created_at, t(100));
    assert_eq!(found.id_token_alg, Algorithm::Es256);
    assert!(
        store
            .find_client(&ClientId::new("nobody"))
            .await
            .unwrap()
            .is_none()
    );

    let new_hash = SecretHash::from_bytes(b"hash-2".to_vec());
    assert!(
        store
            .replace_client_secret(&ClientId::new("c1"), &new_hash)
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_client_secret(&ClientId::new("p1"), &new_hash)
            .await
            .unwrap(),
        "public"
    );
    assert!(
        !store
            .replace_client_secret(&ClientId::new("nobody"), &new_hash)
            .await
            .unwrap()
    );
    let found = store.find_client(&ClientId::new("c1")).await.unwrap().unwrap();
    assert_eq!(found.secret_hash, Some(new_hash));

    let ids: Vec<String> = store
        .list_clients()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, ["c1", "p1"]);
    assert!(store.delete_client(&ClientId::new("c1")).await.unwrap());
    assert!(!store.delete_client(&ClientId::new("c1")).await.unwrap());
    assert_eq!(store.list_clients().await.unwrap().len(), 1);
}

async fn scopes_keep_descriptions(store: &dyn Store) {
    store
        .describe_scope(&Scope::parse("notes:read").unwrap(), "Read your notes")
        .await
        .unwrap();
    store
        .ensure_scopes(&ScopeSet::parse("notes:read notes:write").unwrap())
        .await
        .unwrap();
    let listed: Vec<(String, String)> = store
        .list_scopes()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.scope.to_string(), d.description))
        .collect();
    assert_eq!(
        listed,
        [
            ("notes:read".into(), "Read your notes".into()),
            ("notes:write".into(), "notes:write".into())
        ],
        "ensure_scopes never overwrites a description"
    );
}

async fn keys_round_trip(store: &dyn Store) {
    let key = |kid: &str, created: i64| StoredKey {
        kid: Kid::new(kid),
        alg: Algorithm::Es256,
        sealed_private: vec![1, 2, 3, 0, 255],
        created_at: t(created),
        activates_at: t(created + 10),
    };
    store.insert_key(&key("k2", 20)).await.unwrap();
    store.insert_key(&key("k1", 10)).await.unwrap();
    assert!(matches!(
        store.insert_key(&key("k1", 10)).await,
        Err(StoreError::Conflict(_))
    ));
    let listed = store.list_keys().await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.kid.to_string()).collect::<Vec<_>>(),
        ["k1", "k2"],
        "oldest first"
    );
    assert_eq!(listed[0].sealed_private, vec![1, 2, 3, 0, 255]);
    assert_eq!(listed[0].activates_at, t(20));
    store.delete_key(&Kid::new("k1")).await.unwrap();
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
}

async fn revocations_sync_and_purge(store: &dyn Store) {
    let client = ClientId::new("c");
    store
        .revoke_access_token(&Jti::new("j1"), &client, t(1000), t(100))
        .await
        .unwrap();
    store
        .revoke_access_token(&Jti::new("j1"), &client, t(1000), t(150))
        .await
        .unwrap();
    store
        .revoke_access_token(&Jti::new("j2"), &client, t(500), t(200))
        .await
        .unwrap();
    let jtis = |list: Vec<latchkey_core::store::Revocation>| {
        let mut jtis: Vec<String> = list.into_iter().map(|r| r.jti.to_string()).collect();
        jtis.sort();
        jtis
    };
    assert_eq!(
        jtis(store.revocations_since(t(0), t(300)).await.unwrap()),
        ["j1", "j2"]
    );
    assert_eq!(
        jtis(store.revocations_since(t(150), t(300)).await.unwrap()),
        ["j2"],
        "first revocation wins"
    );
    assert_eq!(
        jtis(store.revocations_since(t(0), t(600)).await.unwrap()),
        ["j1"],
        "expired ones are skipped"
    );
    assert_eq!(store.purge_revocations(t(600)).await.unwrap(), 1);
    assert_eq!(jtis(store.revocations_since(t(0), t(0)).await.unwrap()), ["j1"]);
}

async fn run_contract(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    clients_round_trip_and_conflict(store.as_ref()).await;
    scopes_keep_descriptions(store.as_ref()).await;
    keys_round_trip(store.as_ref()).await;
    revocations_sync_and_purge(store.as_ref()).await;
}

#[tokio::test]
async fn sqlite_satisfies_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    run_contract(latchkey_store::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn two_sqlite_connections_share_one_file_and_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (a, b) = tokio::join!(latchkey_store::connect(&url), latchkey_store::connect(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    a.insert_client(&client("from-a", Some(b"h"))).await.unwrap();
    assert!(b.find_client(&ClientId::new("from-a")).await.unwrap().is_some());
}

#[tokio::test]
async fn unsupported_urls_are_refused_clearly() {
    let err = latchkey_store::connect("mysql://localhost/x")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unsupported database URL"));
}
