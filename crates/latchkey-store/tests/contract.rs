//! The store contract: one suite written against `&dyn Store`, run for every backend, so
//! each implementation behaves the same. (Queries are checked at run time, so this suite is
//! the safety net that compile-time checking would otherwise be.)
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a failed step is a failed test"
)]

use std::sync::Arc;

use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::error::StoreError;
use latchkey_core::family::{AuthorizationCode, CodeRedemption, Family, RefreshRotation, RefreshTokenRecord};
use latchkey_core::id::{ClientId, FamilyId, Jti, Kid, UserId};
use latchkey_core::keys::{Algorithm, StoredKey};
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::SecretHash;
use latchkey_core::store::Store;
use latchkey_core::user::User;

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
    let all = store.list_scopes().await.unwrap();
    assert!(
        all.iter()
            .any(|d| d.scope.as_str() == "openid" && d.description != "openid"),
        "built-in scopes"
    );
    let listed: Vec<(String, String)> = all
        .into_iter()
        .filter(|d| d.scope.as_str().starts_with("notes:"))
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

async fn families_are_single_use_even_under_races(store: Arc<dyn Store>) {
    let user = User {
        id: UserId::new("u1"),
        username: "Alice".into(),
        email: None,
        name: None,
        created_at: t(0),
    };
    store.insert_user(&user, "$argon2id$stub").await.unwrap();
    let again = User {
        id: UserId::new("u2"),
        username: "ALICE".into(),
        ..user.clone()
    };
    assert!(
        matches!(store.insert_user(&again, "x").await, Err(StoreError::Conflict(_))),
        "case-insensitive"
    );
    let (found, hash) = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), hash.as_str()), ("u1", "$argon2id$stub"));
    store.insert_client(&client("fc", Some(b"h"))).await.unwrap();

    let family = Family {
        id: FamilyId::new("f1"),
        client_id: ClientId::new("fc"),
        user_id: UserId::new("u1"),
        scopes: ScopeSet::parse("openid").unwrap(),
        auth_time: t(10),
        created_at: t(10),
        expires_at: t(10_000),
        revoked: false,
    };
    store.insert_family(&family).await.unwrap();
    let code_hash = SecretHash::from_bytes(b"code".to_vec());
    store
        .insert_code(&AuthorizationCode {
            hash: code_hash.clone(),
            family_id: family.id.clone(),
            redirect_uri: "https://app.example.com/cb".into(),
            redirect_given: true,
            code_challenge: None,
            nonce: Some("n".into()),
            expires_at: t(70),
        })
        .await
        .unwrap();
    let racers = (0..8).map(|_| {
        let (store, hash) = (Arc::clone(&store), code_hash.clone());
        tokio::spawn(async move { store.redeem_code(&hash, t(20)).await.unwrap() })
    });
    let mut redeemed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            CodeRedemption::Redeemed(pair) => {
                redeemed += 1;
                assert_eq!(pair.1, family);
                assert_eq!(pair.0.nonce.as_deref(), Some("n"));
            }
            CodeRedemption::Replayed(id) => assert_eq!(id, family.id),
            CodeRedemption::Invalid => panic!("a known code is never invalid before it expires"),
        }
    }
    assert_eq!(redeemed, 1, "exactly one redemption wins");

    let token_hash = SecretHash::from_bytes(b"refresh".to_vec());
    store
        .insert_refresh_token(&RefreshTokenRecord {
            hash: token_hash.clone(),
            family_id: family.id.clone(),
            scopes: family.scopes.clone(),
            issued_at: t(20),
            idle_expires_at: t(5_000),
        })
        .await
        .unwrap();
    assert!(matches!(
        store.rotate_refresh_token(&token_hash, t(30)).await.unwrap(),
        RefreshRotation::Fresh(..)
    ));
    match store.rotate_refresh_token(&token_hash, t(31)).await.unwrap() {
        RefreshRotation::AlreadyRotated(_, _, at) => assert_eq!(at, t(30)),
        other => panic!("expected AlreadyRotated, got {other:?}"),
    }
    store
        .record_access_token(&Jti::new("fam-jti"), &family.id, t(900))
        .await
        .unwrap();
    store.revoke_family(&family.id, t(40)).await.unwrap();
    let revoked: Vec<String> = store
        .revocations_since(t(40), t(40))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.jti.to_string())
        .collect();
    assert!(
        revoked.contains(&"fam-jti".to_owned()),
        "the family's access tokens join the deny list"
    );
    match store.rotate_refresh_token(&token_hash, t(41)).await.unwrap() {
        RefreshRotation::AlreadyRotated(_, family, _) => assert!(family.revoked),
        other => panic!("expected a revoked family, got {other:?}"),
    }
    assert!(matches!(
        store
            .rotate_refresh_token(&SecretHash::from_bytes(b"nope".to_vec()), t(41))
            .await
            .unwrap(),
        RefreshRotation::Invalid
    ));
}

async fn run_contract(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    clients_round_trip_and_conflict(store.as_ref()).await;
    scopes_keep_descriptions(store.as_ref()).await;
    keys_round_trip(store.as_ref()).await;
    revocations_sync_and_purge(store.as_ref()).await;
    families_are_single_use_even_under_races(Arc::clone(&store)).await;
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
