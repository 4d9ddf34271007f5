//! The store contract: one suite written against `&dyn Store`, run for every backend, so
//! each implementation behaves the same. (Queries are checked at run time, so this suite is
//! the safety net that compile-time checking would otherwise be.)
//!
//! SQLite runs in a temporary file. PostgreSQL runs when `LATCHKEY_TEST_POSTGRES_URL` names
//! a server, each test in a schema of its own (see `support`).
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a failed step is a failed test"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::audit::{Actor, AuditEvent, AuditKind, AuditQuery};
use latchkey_core::client::{AuthMethod, Client, GrantType, RedirectUri};
use latchkey_core::clock::Timestamp;
use latchkey_core::device::{DeviceAuthorization, DeviceStatus, UserCode};
use latchkey_core::error::StoreError;
use latchkey_core::family::{
    AuthorizationCode, CodeRedemption, Family, RefreshRotation, RefreshTokenRecord, Session,
};
use latchkey_core::federation::{LinkedIdentity, UpstreamProvider};
use latchkey_core::id::{ClientId, FamilyId, Jti, Kid, UserId};
use latchkey_core::keys::{Algorithm, StoredKey};
use latchkey_core::roles::Role;
use latchkey_core::scope::{Scope, ScopeSet};
use latchkey_core::secret::SecretHash;
use latchkey_core::store::{ConsentRecord, Passkey, Store};
use latchkey_core::user::User;
use sqlx::Executor;
use support::TestSchema;
use tokio::sync::Barrier;

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

/// Eight tasks calling `call` on the store: all spawned before any starts, then released
/// together by a barrier.
fn in_lockstep<T, F, Fut>(store: &Arc<dyn Store>, call: F) -> Vec<tokio::task::JoinHandle<T>>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let start = Arc::new(Barrier::new(8));
    (0..8)
        .map(|_| {
            let (start, call) = (Arc::clone(&start), call(Arc::clone(store)));
            tokio::spawn(async move {
                start.wait().await;
                call.await
            })
        })
        .collect()
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
        amr: "pwd otp mfa".into(),
        created_at: t(10),
        expires_at: t(10_000),
        revoked: false,
    };
    let code_hash = SecretHash::from_bytes(b"code".to_vec());
    let code = AuthorizationCode {
        hash: code_hash.clone(),
        family_id: family.id.clone(),
        redirect_uri: "https://app.example.com/cb".into(),
        redirect_given: true,
        code_challenge: None,
        nonce: Some("n".into()),
        expires_at: t(70),
    };
    store.insert_family_with_code(&family, &code).await.unwrap();
    assert_eq!(
        store.find_family(&family.id).await.unwrap().as_ref(),
        Some(&family)
    );
    let (found, found_family, used) = store.find_code(&code_hash).await.unwrap().unwrap();
    assert_eq!(
        (
            found.nonce.as_deref(),
            found.redirect_given,
            found.expires_at,
            used
        ),
        (Some("n"), true, t(70), false)
    );
    assert_eq!(found_family, family);
    assert!(
        store
            .find_code(&SecretHash::from_bytes(b"nope".to_vec()))
            .await
            .unwrap()
            .is_none()
    );
    // A warm-up round first, so a pooled backend has a connection open for every racer
    // and the racing statements truly overlap instead of queueing for connections.
    for warm_up in in_lockstep(&store, |store| async move { store.ping().await.unwrap() }) {
        warm_up.await.unwrap();
    }
    let racing_hash = code_hash.clone();
    let racers = in_lockstep(&store, move |store| {
        let hash = racing_hash.clone();
        let refresh = RefreshTokenRecord {
            hash: SecretHash::from_bytes(b"code-refresh".to_vec()),
            family_id: FamilyId::new("f1"),
            scopes: ScopeSet::parse("openid").unwrap(),
            issued_at: t(20),
            idle_expires_at: t(5_000),
        };
        // Every racer offers the same refresh token: a second insert would fail the test.
        async move { store.redeem_code(&hash, Some(&refresh), t(20)).await.unwrap() }
    });
    let mut redeemed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            CodeRedemption::Redeemed => redeemed += 1,
            CodeRedemption::Replayed(id) => assert_eq!(id, family.id),
            CodeRedemption::Invalid => panic!("a known code is never invalid before it expires"),
        }
    }
    assert_eq!(redeemed, 1, "exactly one redemption wins");
    assert!(
        store.find_code(&code_hash).await.unwrap().unwrap().2,
        "the code is spent"
    );
    let (_, _, rotated) = store
        .find_refresh_token(&SecretHash::from_bytes(b"code-refresh".to_vec()))
        .await
        .unwrap()
        .unwrap(); // the winner's refresh token is stored
    assert!(!rotated);

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
    let successor = |name: &[u8], at: Timestamp| RefreshTokenRecord {
        hash: SecretHash::from_bytes(name.to_vec()),
        family_id: family.id.clone(),
        scopes: family.scopes.clone(),
        issued_at: at,
        idle_expires_at: t(5_000),
    };
    assert_eq!(
        store
            .rotate_refresh_token(&token_hash, &successor(b"second", t(30)), t(30))
            .await
            .unwrap(),
        RefreshRotation::Fresh {
            family_revoked: false
        }
    );
    let (stored, _, rotated) = store
        .find_refresh_token(&SecretHash::from_bytes(b"second".to_vec()))
        .await
        .unwrap()
        .unwrap(); // the rotation stored the successor
    assert_eq!((stored.issued_at, rotated), (t(30), false));
    assert!(
        store.find_refresh_token(&token_hash).await.unwrap().unwrap().2,
        "the first is rotated"
    );
    assert_eq!(
        store
            .rotate_refresh_token(&token_hash, &successor(b"third", t(31)), t(31))
            .await
            .unwrap(),
        RefreshRotation::AlreadyRotated {
            at: t(30),
            family_revoked: false
        }
    );
    assert!(
        store
            .find_refresh_token(&SecretHash::from_bytes(b"third".to_vec()))
            .await
            .unwrap()
            .is_none(),
        "a second rotation stores nothing"
    );
    store.revoke_family(&family.id, t(40)).await.unwrap();
    let revoked: Vec<String> = store
        .revoked_families_since(t(40))
        .await
        .unwrap()
        .into_iter()
        .map(|(id, at)| {
            assert_eq!(at, t(40));
            id.to_string()
        })
        .collect();
    assert_eq!(
        revoked,
        [family.id.to_string()],
        "the revocation list finds revoked grants by time"
    );
    assert_eq!(
        store
            .rotate_refresh_token(&token_hash, &successor(b"fourth", t(41)), t(41))
            .await
            .unwrap(),
        RefreshRotation::AlreadyRotated {
            at: t(30),
            family_revoked: true
        }
    );
    assert_eq!(
        store
            .rotate_refresh_token(
                &SecretHash::from_bytes(b"second".to_vec()),
                &successor(b"fifth", t(41)),
                t(41)
            )
            .await
            .unwrap(),
        RefreshRotation::Fresh { family_revoked: true },
        "rotating in a revoked grant says so"
    );
    assert_eq!(
        store
            .rotate_refresh_token(
                &SecretHash::from_bytes(b"nope".to_vec()),
                &successor(b"sixth", t(41)),
                t(41)
            )
            .await
            .unwrap(),
        RefreshRotation::Invalid
    );
}

fn user(id: &str, username: &str, created: i64) -> User {
    User {
        id: UserId::new(id),
        username: username.into(),
        email: Some(format!("{id}@example.com")),
        name: Some(format!("User {id}")),
        created_at: t(created),
    }
}

fn family(id: &str, client: &str, user: &str) -> Family {
    Family {
        id: FamilyId::new(id),
        client_id: ClientId::new(client),
        user_id: UserId::new(user),
        scopes: ScopeSet::parse("openid").unwrap(),
        auth_time: t(10),
        amr: "pwd".into(),
        created_at: t(10),
        expires_at: t(10_000),
        revoked: false,
    }
}

fn hash(bytes: &[u8]) -> SecretHash {
    SecretHash::from_bytes(bytes.to_vec())
}

async fn users_sessions_round_trip_and_cascade(store: &dyn Store) {
    store.insert_user(&user("u3", "Bob", 5), "hash-1").await.unwrap();
    assert_eq!(
        store.find_user(&UserId::new("u3")).await.unwrap(),
        Some(user("u3", "Bob", 5))
    );
    assert!(store.find_user(&UserId::new("nobody")).await.unwrap().is_none());
    assert!(
        store
            .set_password_hash(&UserId::new("u3"), "hash-2")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_password_hash(&UserId::new("nobody"), "x")
            .await
            .unwrap()
    );
    let (found, password_hash) = store.find_user_by_username("bOB").await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), password_hash.as_str()), ("u3", "hash-2"));
    let ids: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.to_string())
        .collect();
    assert_eq!(ids, ["u1", "u3"], "oldest first");

    let session = |expires: i64| Session {
        user_id: UserId::new("u3"),
        auth_time: t(10),
        amr: "pwd otp mfa".into(),
        expires_at: t(expires),
    };
    store.insert_session(&hash(b"s1"), &session(100)).await.unwrap();
    store.insert_session(&hash(b"s2"), &session(200)).await.unwrap();
    store.insert_session(&hash(b"s3"), &session(300)).await.unwrap();
    assert_eq!(
        store.find_session(&hash(b"s1"), t(99)).await.unwrap(),
        Some(session(100))
    );
    assert_eq!(
        store.find_session(&hash(b"s1"), t(100)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.purge_sessions(t(150)).await.unwrap(), 1);
    assert!(store.find_session(&hash(b"s2"), t(150)).await.unwrap().is_some());
    store.delete_session(&hash(b"s2")).await.unwrap();
    assert!(store.find_session(&hash(b"s2"), t(150)).await.unwrap().is_none());

    assert!(store.delete_user(&UserId::new("u3")).await.unwrap());
    assert!(!store.delete_user(&UserId::new("u3")).await.unwrap());
    assert!(
        store.find_session(&hash(b"s3"), t(150)).await.unwrap().is_none(),
        "a user's sessions go with them"
    );
}

async fn consent_is_remembered_and_withdrawing_it_revokes_its_families(store: &dyn Store) {
    store.insert_user(&user("cu", "Carol", 6), "h").await.unwrap();
    store.insert_client(&client("cc1", Some(b"h"))).await.unwrap();
    store.insert_client(&client("cc2", None)).await.unwrap();
    let (carol, cc1, cc2) = (UserId::new("cu"), ClientId::new("cc1"), ClientId::new("cc2"));
    assert_eq!(store.find_consent(&carol, &cc1).await.unwrap(), None);
    let broad = ScopeSet::parse("openid profile").unwrap();
    let narrow = ScopeSet::parse("openid").unwrap();
    store.save_consent(&carol, &cc1, &broad, t(10)).await.unwrap();
    store.save_consent(&carol, &cc1, &narrow, t(20)).await.unwrap();
    store.save_consent(&carol, &cc2, &broad, t(30)).await.unwrap();
    assert_eq!(
        store.find_consent(&carol, &cc1).await.unwrap(),
        Some(narrow.clone())
    );
    assert_eq!(
        store.list_consents(&carol).await.unwrap(),
        [
            ConsentRecord {
                client_id: cc2.clone(),
                scopes: broad.clone(),
                first_granted: t(30),
                updated_at: t(30),
            },
            ConsentRecord {
                client_id: cc1.clone(),
                scopes: narrow,
                first_granted: t(10),
                updated_at: t(20),
            }
        ],
        "most recent first, replaced in place, first granted kept"
    );
    assert!(!store.has_offline_access(&carol, &cc1, t(40)).await.unwrap());
    store
        .insert_family(&family("offline-f", "cc1", "cu"))
        .await
        .unwrap();
    store
        .insert_refresh_token(&RefreshTokenRecord {
            hash: hash(b"carol-refresh"),
            family_id: FamilyId::new("offline-f"),
            scopes: ScopeSet::parse("openid").unwrap(),
            issued_at: t(40),
            idle_expires_at: t(5_000),
        })
        .await
        .unwrap();
    assert!(
        store.has_offline_access(&carol, &cc1, t(41)).await.unwrap(),
        "a live refresh token"
    );
    assert!(
        !store.has_offline_access(&carol, &cc1, t(5_001)).await.unwrap(),
        "not once it idles out"
    );
    assert!(
        !store.has_offline_access(&carol, &cc2, t(41)).await.unwrap(),
        "per client"
    );

    for (id, client) in [("cf1", "cc1"), ("cf2", "cc1"), ("cf3", "cc2")] {
        store.insert_family(&family(id, client, "cu")).await.unwrap();
    }
    store.revoke_consent(&carol, &cc1, t(40)).await.unwrap();

    assert_eq!(store.find_consent(&carol, &cc1).await.unwrap(), None);
    assert_eq!(store.find_consent(&carol, &cc2).await.unwrap(), Some(broad));
    for (id, revoked) in [("cf1", true), ("cf2", true), ("cf3", false)] {
        let found = store.find_family(&FamilyId::new(id)).await.unwrap().unwrap();
        assert_eq!(found.revoked, revoked, "{id}");
    }
    let mut denied: Vec<String> = store
        .revoked_families_since(t(40))
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id.to_string())
        .filter(|id| id.starts_with("cf"))
        .collect();
    denied.sort();
    assert_eq!(denied, ["cf1", "cf2"], "that client's grants only");
}

fn device(code: &[u8], user_code: &str, expires: i64) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code_hash: hash(code),
        user_code: UserCode::parse(user_code).unwrap(),
        client_id: ClientId::new("dc"),
        scopes: ScopeSet::parse("openid").unwrap(),
        created_at: t(100),
        expires_at: t(expires),
        status: DeviceStatus::Pending,
        family_id: None,
    }
}

async fn device_codes_are_approved_once_and_spent_once(store: &dyn Store) {
    store.insert_user(&user("du", "Dave", 7), "h").await.unwrap();
    store.insert_client(&client("dc", None)).await.unwrap();
    store.insert_family(&family("df", "dc", "du")).await.unwrap();
    let (live, stale, refused) = (
        UserCode::parse("BCDF-GHJK").unwrap(),
        UserCode::parse("LMNPQRST").unwrap(),
        UserCode::parse("vwxz-bcdf").unwrap(),
    );
    store
        .insert_device_authorization(&device(b"d1", "BCDFGHJK", 700))
        .await
        .unwrap();
    store
        .insert_device_authorization(&device(b"d2", "LMNPQRST", 150))
        .await
        .unwrap();
    store
        .insert_device_authorization(&device(b"d3", "VWXZBCDF", 700))
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .insert_device_authorization(&device(b"d4", "BCDFGHJK", 700))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "user codes are unique"
    );

    let found = store.find_device_by_user_code(&live).await.unwrap().unwrap();
    assert_eq!(
        (found.device_code_hash, found.status, found.family_id),
        (hash(b"d1"), DeviceStatus::Pending, None)
    );
    let df = FamilyId::new("df");
    assert!(
        !store.spend_device(&hash(b"d1"), t(200)).await.unwrap(),
        "not approved yet"
    );
    assert!(store.approve_device(&live, &df, t(200)).await.unwrap());
    assert!(!store.approve_device(&live, &df, t(201)).await.unwrap(), "once");
    assert!(!store.deny_device(&live, t(201)).await.unwrap());
    let found = store.find_device_by_code(&hash(b"d1")).await.unwrap().unwrap();
    assert_eq!(
        (found.status, found.family_id),
        (DeviceStatus::Approved, Some(df.clone()))
    );
    assert!(store.spend_device(&hash(b"d1"), t(300)).await.unwrap());
    assert!(
        !store.spend_device(&hash(b"d1"), t(301)).await.unwrap(),
        "exactly one poll"
    );
    let found = store.find_device_by_code(&hash(b"d1")).await.unwrap().unwrap();
    assert_eq!(found.status, DeviceStatus::Spent);

    assert!(
        !store.approve_device(&stale, &df, t(200)).await.unwrap(),
        "expired"
    );
    assert!(!store.deny_device(&stale, t(200)).await.unwrap(), "expired");
    assert!(store.deny_device(&refused, t(200)).await.unwrap());
    assert!(!store.approve_device(&refused, &df, t(201)).await.unwrap());

    store.release_expired_user_code(&live, t(200)).await.unwrap();
    store.release_expired_user_code(&stale, t(200)).await.unwrap();
    assert!(
        store.find_device_by_user_code(&live).await.unwrap().is_some(),
        "live"
    );
    assert!(store.find_device_by_user_code(&stale).await.unwrap().is_none());
    assert!(store.find_device_by_code(&hash(b"nope")).await.unwrap().is_none());

    assert_eq!(
        store.purge_device_codes(t(4299)).await.unwrap(),
        0,
        "kept an hour"
    );
    assert_eq!(store.purge_device_codes(t(4300)).await.unwrap(), 2);
}

async fn user_code_failures_count_within_a_window(store: &dyn Store) {
    let window = Duration::from_secs(600);
    assert_eq!(
        store.user_code_failures("ip:1", t(1000), window).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .record_user_code_failure("ip:1", t(1000), window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .record_user_code_failure("ip:1", t(1100), window)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .record_user_code_failure("ip:2", t(1100), window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.user_code_failures("ip:1", t(1599), window).await.unwrap(),
        2
    );
    assert_eq!(
        store.user_code_failures("ip:1", t(1600), window).await.unwrap(),
        0,
        "the window opened at the first failure has passed"
    );
    assert_eq!(
        store
            .record_user_code_failure("ip:1", t(1650), window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .record_user_code_failure("ip:1", t(2249), window)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.user_code_failures("ip:1", t(2249), window).await.unwrap(),
        2
    );
    assert_eq!(
        store.user_code_failures("ip:2", t(1650), window).await.unwrap(),
        1
    );
}

async fn the_audit_trail_filters_pages_and_prunes(store: &dyn Store) {
    let client = ClientId::new("audit-client");
    let alice = UserId::new("audit-alice");
    let events: Vec<AuditEvent> = (0..5)
        .map(|i| {
            AuditEvent::new(AuditKind::TokenIssued, t(100 + i), &Actor::Client(client.clone()))
                .client(&client)
                .subject(&alice)
                .with("grant_type", "authorization_code")
                .with("n", i)
        })
        .chain([
            AuditEvent::new(AuditKind::LoginFailed, t(103), &Actor::Anonymous).with("reason", "unknown user"),
            AuditEvent::new(AuditKind::ClientCreated, t(50), &Actor::Cli).client(&client),
        ])
        .collect();
    store.insert_audit_events(&events).await.unwrap();
    store.insert_audit_events(&[]).await.unwrap();
    let query = |edit: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        edit(&mut q);
        q
    };
    let all = store.list_audit_events(&query(&|_| {})).await.unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let first = all
        .iter()
        .find(|e| e.detail.get("n") == Some(&serde_json::Value::from(0)))
        .unwrap();
    assert_eq!(
        (
            first.kind,
            first.at,
            first.actor.as_str(),
            first.subject.as_ref(),
            first.client_id.as_ref()
        ),
        (
            AuditKind::TokenIssued,
            t(100),
            "client:audit-client",
            Some(&alice),
            Some(&client)
        )
    );
    let kinds = |events: &[AuditEvent]| events.iter().map(|e| e.kind).collect::<Vec<_>>();
    let by_subject = store
        .list_audit_events(&query(&|q| q.subject = Some(alice.clone())))
        .await
        .unwrap();
    assert_eq!(by_subject.len(), 5);
    let by_client = store
        .list_audit_events(&query(&|q| q.client_id = Some(client.clone())))
        .await
        .unwrap();
    assert_eq!(by_client.len(), 6);
    let by_kind = store
        .list_audit_events(&query(&|q| q.kind = Some(AuditKind::LoginFailed)))
        .await
        .unwrap();
    assert_eq!(kinds(&by_kind), [AuditKind::LoginFailed]);
    let window = store
        .list_audit_events(&query(&|q| {
            q.since = Some(t(101));
            q.until = Some(t(104));
        }))
        .await
        .unwrap();
    assert_eq!(window.len(), 4, "101, 102, 103 and the failed login at 103");
    let page = store.list_audit_events(&query(&|q| q.limit = 2)).await.unwrap();
    let next = store
        .list_audit_events(&query(&|q| {
            q.limit = 2;
            q.before_id = page.last().map(|e| e.id);
        }))
        .await
        .unwrap();
    assert_eq!(next.len(), 2);
    assert!(
        next[0].id < page[1].id,
        "the next page continues below the last id"
    );
    assert_eq!(store.purge_audit_events(t(102)).await.unwrap(), 3);
    assert_eq!(store.list_audit_events(&query(&|_| {})).await.unwrap().len(), 4);
}

async fn expired_codes_tokens_and_grants_are_purged(store: &dyn Store) {
    store.insert_user(&user("pu", "Purdy", 1), "h").await.unwrap();
    store.insert_client(&client("pc", Some(b"h"))).await.unwrap();
    let family = family("pf", "pc", "pu");
    let code = AuthorizationCode {
        hash: hash(b"purge-code"),
        family_id: family.id.clone(),
        redirect_uri: "https://app.example.com/cb".into(),
        redirect_given: false,
        code_challenge: None,
        nonce: None,
        expires_at: t(70),
    };
    store.insert_family_with_code(&family, &code).await.unwrap();
    store
        .insert_refresh_token(&RefreshTokenRecord {
            hash: hash(b"purge-refresh"),
            family_id: family.id.clone(),
            scopes: ScopeSet::parse("openid").unwrap(),
            issued_at: t(20),
            idle_expires_at: t(200),
        })
        .await
        .unwrap();
    // (Other tests' rows share this store: check only ours.)
    store.purge_families(t(100), t(0)).await.unwrap();
    assert!(
        store.find_code(&hash(b"purge-code")).await.unwrap().is_some(),
        "not due yet"
    );
    assert!(
        store
            .find_refresh_token(&hash(b"purge-refresh"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store.purge_families(t(4_000), t(0)).await.unwrap() >= 2,
        "the code and the idle token"
    );
    assert!(store.find_code(&hash(b"purge-code")).await.unwrap().is_none());
    assert!(
        store
            .find_refresh_token(&hash(b"purge-refresh"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.find_family(&family.id).await.unwrap().is_some(),
        "the grant lives on"
    );
    store.revoke_family(&family.id, t(5_000)).await.unwrap();
    store.purge_families(t(5_500), t(4_999)).await.unwrap();
    assert!(
        store.find_family(&family.id).await.unwrap().is_some(),
        "still remembered"
    );
    assert!(store.purge_families(t(6_000), t(5_001)).await.unwrap() >= 1);
    assert!(
        store.find_family(&family.id).await.unwrap().is_none(),
        "forgotten after revocation"
    );
}

async fn roles_hold_permissions_and_restrict_scopes(store: &dyn Store) {
    let set = |text: &str| ScopeSet::parse(text).unwrap();
    let role = |name: &str, scopes: &str| Role {
        name: name.into(),
        description: format!("{name} role"),
        scopes: set(scopes),
    };
    store.insert_user(&user("r1", "Rita", 5), "hash").await.unwrap();
    let rita = UserId::new("r1");
    store
        .put_role(
            &role("editor", "notes:read notes:write"),
            Timestamp::from_secs(10),
        )
        .await
        .unwrap();
    store
        .put_role(&role("viewer", "notes:read"), Timestamp::from_secs(10))
        .await
        .unwrap();
    store
        .put_role(&role("empty", ""), Timestamp::from_secs(10))
        .await
        .unwrap();
    // Replacing a role replaces its whole set of scopes.
    store
        .put_role(&role("editor", "notes:write admin"), Timestamp::from_secs(11))
        .await
        .unwrap();
    let listed = store.list_roles().await.unwrap();
    assert_eq!(
        listed,
        [
            role("editor", "admin notes:write"),
            role("empty", ""),
            role("viewer", "notes:read")
        ]
    );

    assert!(store.grant_role(&rita, "editor").await.unwrap());
    assert!(
        store.grant_role(&rita, "editor").await.unwrap(),
        "granting twice is fine"
    );
    assert!(!store.grant_role(&rita, "nobody").await.unwrap());
    assert!(!store.grant_role(&UserId::new("nobody"), "editor").await.unwrap());
    assert!(store.grant_role(&rita, "empty").await.unwrap());
    assert_eq!(
        store.user_roles(&rita).await.unwrap(),
        [role("editor", "admin notes:write"), role("empty", "")]
    );
    assert!(store.revoke_role(&rita, "empty").await.unwrap());
    assert!(!store.revoke_role(&rita, "empty").await.unwrap());
    // Deleting a role takes it from its holders; deleting the user forgets theirs.
    assert!(store.delete_role("editor").await.unwrap());
    assert!(!store.delete_role("editor").await.unwrap());
    assert!(store.user_roles(&rita).await.unwrap().is_empty());
    store.grant_role(&rita, "viewer").await.unwrap();
    store.delete_user(&rita).await.unwrap();
    assert!(store.user_roles(&rita).await.unwrap().is_empty());
    store.delete_role("viewer").await.unwrap();
    store.delete_role("empty").await.unwrap();

    assert_eq!(store.restricted_scopes().await.unwrap(), ScopeSet::default());
    let write = Scope::parse("notes:write").unwrap();
    store.set_scope_restricted(&write, true).await.unwrap();
    store
        .set_scope_restricted(&Scope::parse("fresh:scope").unwrap(), true)
        .await
        .unwrap();
    assert_eq!(
        store.restricted_scopes().await.unwrap(),
        set("fresh:scope notes:write")
    );
    assert!(
        store
            .list_scopes()
            .await
            .unwrap()
            .iter()
            .any(|s| s.scope.as_str() == "fresh:scope")
    );
    store.set_scope_restricted(&write, false).await.unwrap();
    assert_eq!(store.restricted_scopes().await.unwrap(), set("fresh:scope"));
    store
        .set_scope_restricted(&Scope::parse("fresh:scope").unwrap(), false)
        .await
        .unwrap();
}

async fn second_factors_confirm_once_and_codes_are_single_use(store: &dyn Store) {
    store.insert_user(&user("m1", "Mona", 5), "hash").await.unwrap();
    let mona = UserId::new("m1");
    assert!(store.find_totp(&mona).await.unwrap().is_none());
    assert!(
        store
            .begin_totp(&mona, b"sealed-1", Timestamp::from_secs(10))
            .await
            .unwrap()
    );
    // Restarting an unconfirmed enrolment replaces the secret.
    assert!(
        store
            .begin_totp(&mona, b"sealed-2", Timestamp::from_secs(11))
            .await
            .unwrap()
    );
    let pending = store.find_totp(&mona).await.unwrap().unwrap();
    assert_eq!(
        (
            pending.sealed_secret.as_slice(),
            pending.confirmed,
            pending.last_step
        ),
        (&b"sealed-2"[..], false, 0)
    );
    // The first accepted step confirms; a step is never accepted twice, nor an older one.
    assert!(store.use_totp_step(&mona, 100).await.unwrap());
    assert!(!store.use_totp_step(&mona, 100).await.unwrap());
    assert!(!store.use_totp_step(&mona, 99).await.unwrap());
    assert!(store.use_totp_step(&mona, 101).await.unwrap());
    let confirmed = store.find_totp(&mona).await.unwrap().unwrap();
    assert!(confirmed.confirmed && confirmed.last_step == 101);
    // A confirmed credential is not replaced by a new enrolment.
    assert!(
        !store
            .begin_totp(&mona, b"sealed-3", Timestamp::from_secs(12))
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_totp(&mona).await.unwrap().unwrap().sealed_secret,
        b"sealed-2"
    );

    let hash = |n: u8| SecretHash::from_bytes(vec![n; 32]);
    store
        .replace_recovery_codes(&mona, &[hash(1), hash(2), hash(3)])
        .await
        .unwrap();
    assert_eq!(store.recovery_codes_left(&mona).await.unwrap(), 3);
    assert!(
        store
            .use_recovery_code(&mona, &hash(2), Timestamp::from_secs(20))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(&mona, &hash(2), Timestamp::from_secs(21))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(&UserId::new("other"), &hash(1), Timestamp::from_secs(21))
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(&mona).await.unwrap(), 2);
    store.replace_recovery_codes(&mona, &[hash(4)]).await.unwrap();
    assert!(
        !store
            .use_recovery_code(&mona, &hash(1), Timestamp::from_secs(22))
            .await
            .unwrap(),
        "replaced"
    );
    assert_eq!(store.recovery_codes_left(&mona).await.unwrap(), 1);

    assert!(store.delete_totp(&mona).await.unwrap());
    assert!(!store.delete_totp(&mona).await.unwrap());
    assert_eq!(store.recovery_codes_left(&mona).await.unwrap(), 0);
    assert!(
        store
            .begin_totp(&mona, b"sealed-5", Timestamp::from_secs(30))
            .await
            .unwrap()
    );
    store.delete_user(&mona).await.unwrap();
    assert!(
        store.find_totp(&mona).await.unwrap().is_none(),
        "gone with the user"
    );
}

async fn upstream_identities_link_by_issuer_and_subject(store: &dyn Store) {
    let provider = |name: &str| UpstreamProvider {
        id: "corp".into(),
        name: name.into(),
        issuer: "https://up.example".into(),
        client_id: "c1".into(),
        sealed_secret: vec![1, 2, 3],
        scopes: "openid email".into(),
        oauth2: (name == "Corp SSO").then(latchkey_core::federation::PlainOAuth::github),
        created_at: Timestamp::from_secs(10),
    };
    store.put_provider(&provider("Corp")).await.unwrap();
    store.put_provider(&provider("Corp SSO")).await.unwrap();
    assert_eq!(store.list_providers().await.unwrap(), [provider("Corp SSO")]);
    assert_eq!(
        store.find_provider("corp").await.unwrap(),
        Some(provider("Corp SSO"))
    );
    assert_eq!(store.find_provider("nope").await.unwrap(), None);

    store.insert_user(&user("f1", "Fay", 5), "!").await.unwrap();
    let fay = UserId::new("f1");
    let identity = |subject: &str| LinkedIdentity {
        provider_id: "corp".into(),
        issuer: "https://up.example".into(),
        subject: subject.into(),
        user_id: fay.clone(),
        created_at: Timestamp::from_secs(20),
    };
    assert_eq!(
        store.find_identity("https://up.example", "s1").await.unwrap(),
        None
    );
    store.link_identity(&identity("s1")).await.unwrap();
    assert!(matches!(
        store.link_identity(&identity("s1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.find_identity("https://up.example", "s1").await.unwrap(),
        Some(fay.clone())
    );
    assert_eq!(
        store.find_identity("https://other.example", "s1").await.unwrap(),
        None,
        "issuer and subject together"
    );
    store.link_identity(&identity("s2")).await.unwrap();
    assert_eq!(
        store.list_identities(&fay).await.unwrap(),
        [identity("s1"), identity("s2")]
    );
    assert!(
        store
            .unlink_identity(&fay, "https://up.example", "s2")
            .await
            .unwrap()
    );
    assert!(
        !store
            .unlink_identity(&fay, "https://up.example", "s2")
            .await
            .unwrap()
    );
    assert!(
        store.email_in_use("F1@Example.com").await.unwrap(),
        "ignoring case"
    );
    assert!(!store.email_in_use("nobody@example.com").await.unwrap());
    assert!(store.delete_provider("corp").await.unwrap());
    assert!(!store.delete_provider("corp").await.unwrap());
    store.delete_user(&fay).await.unwrap();
    assert_eq!(
        store.find_identity("https://up.example", "s1").await.unwrap(),
        None,
        "gone with the user"
    );
}

async fn passkeys_count_up_and_challenges_spend_once(store: &dyn Store) {
    store.insert_user(&user("p1", "Pia", 5), "!").await.unwrap();
    store.insert_user(&user("p2", "Per", 5), "!").await.unwrap();
    let (pia, per) = (UserId::new("p1"), UserId::new("p2"));
    let key = |id: &[u8], owner: &UserId, at: i64| Passkey {
        credential_id: id.to_vec(),
        user_id: owner.clone(),
        name: format!("key {at}"),
        public_key: vec![0xa5, 1, 2],
        algorithm: -7,
        sign_count: 0,
        backup_eligible: at % 2 == 0,
        created_at: Timestamp::from_secs(at),
        last_used_at: None,
    };
    assert!(store.add_passkey(&key(b"k2", &pia, 20)).await.unwrap());
    assert!(store.add_passkey(&key(b"k1", &pia, 10)).await.unwrap());
    assert!(
        !store.add_passkey(&key(b"k1", &per, 30)).await.unwrap(),
        "a credential id belongs to one user"
    );
    assert_eq!(
        store.list_passkeys(&pia).await.unwrap(),
        [key(b"k1", &pia, 10), key(b"k2", &pia, 20)]
    );
    assert!(store.list_passkeys(&per).await.unwrap().is_empty());
    assert_eq!(
        store.find_passkey(b"k1").await.unwrap(),
        Some(key(b"k1", &pia, 10))
    );
    assert_eq!(store.find_passkey(b"k9").await.unwrap(), None);

    // A counter-less authenticator (0 and 0) may sign in again; a counting one must grow.
    assert!(
        store
            .use_passkey(b"k1", 0, Timestamp::from_secs(40))
            .await
            .unwrap()
    );
    assert!(
        store
            .use_passkey(b"k2", 5, Timestamp::from_secs(41))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(b"k2", 5, Timestamp::from_secs(42))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(b"k2", 4, Timestamp::from_secs(42))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(b"k2", 0, Timestamp::from_secs(42))
            .await
            .unwrap()
    );
    let used = store.find_passkey(b"k2").await.unwrap().unwrap();
    assert_eq!(
        (used.sign_count, used.last_used_at),
        (5, Some(Timestamp::from_secs(41)))
    );

    assert!(
        !store.delete_passkey(&per, b"k1").await.unwrap(),
        "only the owner's"
    );
    assert!(store.delete_passkey(&pia, b"k1").await.unwrap());
    assert!(!store.delete_passkey(&pia, b"k1").await.unwrap());
    assert_eq!(store.delete_passkeys(&pia).await.unwrap(), 1);
    store.add_passkey(&key(b"k3", &pia, 50)).await.unwrap();
    store.delete_user(&pia).await.unwrap();
    assert_eq!(
        store.find_passkey(b"k3").await.unwrap(),
        None,
        "gone with the user"
    );

    let challenge = SecretHash::from_bytes(vec![9; 32]);
    let (at, until) = (Timestamp::from_secs(100), Timestamp::from_secs(400));
    assert!(store.spend_challenge(&challenge, until, at).await.unwrap());
    assert!(
        !store.spend_challenge(&challenge, until, at).await.unwrap(),
        "once"
    );
    // Once expired it is forgotten (it could not be presented any more anyway).
    assert!(
        store
            .spend_challenge(&challenge, Timestamp::from_secs(900), Timestamp::from_secs(401))
            .await
            .unwrap()
    );
}

async fn run_contract(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    clients_round_trip_and_conflict(store.as_ref()).await;
    scopes_keep_descriptions(store.as_ref()).await;
    keys_round_trip(store.as_ref()).await;
    revocations_sync_and_purge(store.as_ref()).await;
    families_are_single_use_even_under_races(Arc::clone(&store)).await;
    users_sessions_round_trip_and_cascade(store.as_ref()).await;
    consent_is_remembered_and_withdrawing_it_revokes_its_families(store.as_ref()).await;
    device_codes_are_approved_once_and_spent_once(store.as_ref()).await;
    user_code_failures_count_within_a_window(store.as_ref()).await;
    the_audit_trail_filters_pages_and_prunes(store.as_ref()).await;
    expired_codes_tokens_and_grants_are_purged(store.as_ref()).await;
    roles_hold_permissions_and_restrict_scopes(store.as_ref()).await;
    second_factors_confirm_once_and_codes_are_single_use(store.as_ref()).await;
    upstream_identities_link_by_issuer_and_subject(store.as_ref()).await;
    passkeys_count_up_and_challenges_spend_once(store.as_ref()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_satisfies_the_store_contract() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    run_contract(latchkey_store::connect(schema.url()).await.unwrap()).await;
    assert_eq!(
        applied_migrations(&schema).await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    );
}

/// The versions recorded in the test schema's migration table: there, and not in `public`,
/// only if the URL's `options` took effect.
async fn applied_migrations(schema: &TestSchema) -> Vec<i64> {
    let mut conn = schema.connect().await;
    let current: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, schema.name());
    let name = schema.name();
    sqlx::query_scalar(&format!(
        r#"SELECT version FROM "{name}".latchkey_migrations ORDER BY version"#
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_connections_race_on_a_fresh_schema_and_migrate_once() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let (a, b) = tokio::join!(
        latchkey_store::connect(schema.url()),
        latchkey_store::connect(schema.url())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    a.insert_client(&client("from-a", Some(b"h"))).await.unwrap();
    assert!(b.find_client(&ClientId::new("from-a")).await.unwrap().is_some());
    assert_eq!(
        applied_migrations(&schema).await,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    );
}

/// Runs `racers` calls that all queue on one row, which a third session holds locked until
/// every racer is waiting on it, then lets them go at once: a race that is certain to
/// happen, rather than one that might.
async fn release_together<T, F, Fut>(
    schema: &TestSchema,
    table: &str,
    key_column: &str,
    key: &[u8],
    racers: usize,
    race: F,
) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut holder = schema.connect().await;
    holder.execute("BEGIN").await.unwrap();
    let locked = sqlx::query(&format!(
        "SELECT 1 FROM {table} WHERE {key_column} = $1 FOR UPDATE"
    ))
    .bind(key)
    .execute(&mut holder)
    .await
    .unwrap();
    assert_eq!(locked.rows_affected(), 1, "the row to race on exists");
    let handles: Vec<_> = (0..racers).map(|i| tokio::spawn(race(i))).collect();
    // Another session: inside a transaction `pg_stat_activity` is a frozen snapshot.
    let mut watcher = schema.connect().await;
    let mut waiting = 0;
    for _ in 0..1000 {
        waiting = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(schema.name())
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if usize::try_from(waiting).unwrap() == racers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        usize::try_from(waiting).unwrap(),
        racers,
        "every racer queued on the row"
    );
    holder.execute("COMMIT").await.unwrap();
    let mut outcomes = Vec::with_capacity(racers);
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_single_use_rules_hold_when_two_nodes_race_in_lockstep() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let nodes = [
        latchkey_store::connect(schema.url()).await.unwrap(),
        latchkey_store::connect(schema.url()).await.unwrap(),
    ];
    let store = &nodes[0];
    store.insert_user(&user("ru", "Rita", 1), "h").await.unwrap();
    store.insert_client(&client("rc", Some(b"h"))).await.unwrap();
    store
        .insert_family_with_code(
            &family("rf", "rc", "ru"),
            &AuthorizationCode {
                hash: hash(b"race-code"),
                family_id: FamilyId::new("rf"),
                redirect_uri: "https://app.example.com/cb".into(),
                redirect_given: false,
                code_challenge: None,
                nonce: None,
                expires_at: t(70),
            },
        )
        .await
        .unwrap();
    let racer = |i: usize| Arc::clone(&nodes[i % 2]);

    let outcomes = release_together(
        &schema,
        "authorization_codes",
        "code_hash",
        b"race-code",
        8,
        |i| {
            let store = racer(i);
            async move { store.redeem_code(&hash(b"race-code"), None, t(20)).await.unwrap() }
        },
    )
    .await;
    let redeemed = outcomes
        .iter()
        .filter(|o| matches!(o, CodeRedemption::Redeemed))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|o| matches!(o, CodeRedemption::Replayed(id) if id.as_str() == "rf"))
        .count();
    assert_eq!((redeemed, replayed), (1, 7), "one code, one redemption");

    store
        .insert_refresh_token(&RefreshTokenRecord {
            hash: hash(b"race-refresh"),
            family_id: FamilyId::new("rf"),
            scopes: ScopeSet::parse("openid").unwrap(),
            issued_at: t(20),
            idle_expires_at: t(5_000),
        })
        .await
        .unwrap();
    let outcomes = release_together(&schema, "refresh_tokens", "token_hash", b"race-refresh", 8, |i| {
        let store = racer(i);
        let now = t(30 + i64::try_from(i).unwrap());
        async move {
            (
                now,
                store
                    .rotate_refresh_token(
                        &hash(b"race-refresh"),
                        &RefreshTokenRecord {
                            hash: hash(format!("race-successor-{i}").as_bytes()),
                            family_id: FamilyId::new("rf"),
                            scopes: ScopeSet::parse("openid").unwrap(),
                            issued_at: now,
                            idle_expires_at: t(5_000),
                        },
                        now,
                    )
                    .await
                    .unwrap(),
            )
        }
    })
    .await;
    let winners: Vec<Timestamp> = outcomes
        .iter()
        .filter_map(|(now, o)| matches!(o, RefreshRotation::Fresh { .. }).then_some(*now))
        .collect();
    assert_eq!(winners.len(), 1, "one refresh token, one rotation");
    for (_, outcome) in &outcomes {
        match outcome {
            RefreshRotation::Fresh { .. } => {}
            RefreshRotation::AlreadyRotated { at, .. } => assert_eq!(*at, winners[0], "the winner's time"),
            RefreshRotation::Invalid => panic!("a known refresh token is never invalid"),
        }
    }

    store.insert_client(&client("dc", None)).await.unwrap();
    store
        .insert_device_authorization(&device(b"race-device", "BCDFGHJK", 700))
        .await
        .unwrap();
    let user_code = UserCode::parse("BCDFGHJK").unwrap();
    assert!(
        store
            .approve_device(&user_code, &FamilyId::new("rf"), t(200))
            .await
            .unwrap()
    );
    let outcomes = release_together(
        &schema,
        "device_codes",
        "device_code_hash",
        b"race-device",
        8,
        |i| {
            let store = racer(i);
            async move { store.spend_device(&hash(b"race-device"), t(300)).await.unwrap() }
        },
    )
    .await;
    assert_eq!(
        outcomes.iter().filter(|spent| **spent).count(),
        1,
        "exactly one poll gets tokens"
    );
}

#[tokio::test]
async fn postgres_store_recovers_when_its_connections_are_cut() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = latchkey_store::connect(schema.url()).await.unwrap();
    store.insert_client(&client("survivor", None)).await.unwrap();
    // What a database restart does to the pool: every session ends under it.
    let mut admin = schema.connect().await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(schema.name())
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !cut.is_empty() && cut.iter().all(|ok| *ok),
        "the pool's sessions were cut"
    );
    store.ping().await.unwrap();
    assert!(
        store
            .find_client(&ClientId::new("survivor"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn postgres_urls_are_accepted_in_both_spellings() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let other = schema.url().replacen("postgres://", "postgresql://", 1);
    let other = if other == schema.url() {
        schema.url().replacen("postgresql://", "postgres://", 1)
    } else {
        other
    };
    latchkey_store::connect(&other)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
}
