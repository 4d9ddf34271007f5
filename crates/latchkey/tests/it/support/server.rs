//! `TestServer`: the real `latchkey_server::serve` on `127.0.0.1:0` over a fresh database
//! (a temporary SQLite file, or a schema of its own on PostgreSQL), with a clock the test
//! controls.

use std::sync::Arc;

use latchkey_core::registry::{self, ClientRegistration};
use latchkey_core::secret::{MasterKey, SecretHasher};
use latchkey_core::store::Store;
use latchkey_core::{AuthConfig, Clock as _, Context, ManualClock, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server. Dropping it shuts the server down.
pub(crate) struct TestServer {
    pub(crate) base: String,
    /// The admin listener's base URL, for a server started with one.
    pub(crate) admin_base: Option<String>,
    /// The issuer: this server's base URL, or the first node's for a second node.
    pub(crate) issuer: String,
    pub(crate) context: Arc<Context>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) http: reqwest::Client,
    master: Arc<MasterKey>,
    database: Arc<Database>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema in the PostgreSQL at this URL.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL, if `LATCHKEY_TEST_POSTGRES_URL` is set.
    pub(crate) fn postgres() -> Option<Self> {
        std::env::var("LATCHKEY_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Self::Postgres)
    }
}

impl Database {
    /// The same database reached through `proxy` (PostgreSQL URLs only).
    pub(crate) fn through(&self, proxy: &super::Proxy) -> Self {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_host(Some(&proxy.addr.ip().to_string())).unwrap();
        url.set_port(Some(proxy.addr.port())).unwrap();
        Self {
            url: url.into(),
            _dir: None,
        }
    }
}

/// One test's database, alive as long as a server uses it.
pub(crate) struct Database {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    pub(crate) async fn create(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
                Self { url, _dir: Some(dir) }
            }
            Backend::Postgres(base) => {
                use sqlx::Connection as _;
                // A schema of its own, so tests run in parallel on one database; CI drops
                // the lk_test_ schemas before each run.
                let schema = format!("lk_test_{}", latchkey_core::id::UserId::generate());
                let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                Self { url, _dir: None }
            }
        }
    }
}

/// A registered client and its secret.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl TestServer {
    /// A server on a fresh database of `backend`.
    pub(crate) async fn start_on(backend: Backend) -> Self {
        let database = Arc::new(Database::create(&backend).await);
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        Self::launch(
            database,
            Arc::new(MasterKey::generate()),
            clock,
            None,
            false,
            |_| {},
        )
        .await
    }

    /// A server on a fresh database of `backend` with settings changed by `configure`.
    pub(crate) async fn start_configured(backend: Backend, configure: fn(&mut AuthConfig)) -> Self {
        let database = Arc::new(Database::create(&backend).await);
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        Self::launch(
            database,
            Arc::new(MasterKey::generate()),
            clock,
            None,
            false,
            configure,
        )
        .await
    }

    /// A server on a fresh SQLite file with a second listener for the admin surface.
    pub(crate) async fn start_with_admin_listener() -> Self {
        let database = Arc::new(Database::create(&Backend::Sqlite).await);
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        Self::launch(
            database,
            Arc::new(MasterKey::generate()),
            clock,
            None,
            true,
            |_| {},
        )
        .await
    }

    /// A server on a fresh PostgreSQL schema reached through a cuttable proxy.
    pub(crate) async fn start_behind_proxy(base: &str) -> (Self, super::Proxy) {
        let database = Database::create(&Backend::Postgres(base.to_owned())).await;
        let url = url::Url::parse(base).unwrap();
        let target = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
            .await
            .unwrap()
            .next()
            .unwrap();
        let proxy = super::Proxy::start(target).await;
        let proxied = Arc::new(database.through(&proxy));
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let server = Self::launch(
            proxied,
            Arc::new(MasterKey::generate()),
            clock,
            None,
            false,
            |_| {},
        )
        .await;
        (server, proxy)
    }

    /// A second server on the same database file and master key (a restart, or a second
    /// node), sharing the clock.
    pub(crate) async fn restart_alongside(&self) -> Self {
        let master = Arc::new(MasterKey::from_base64(&self.master.to_base64()).unwrap());
        Self::launch(
            Arc::clone(&self.database),
            master,
            Arc::clone(&self.clock),
            Some(self.issuer.clone()),
            false,
            |_| {},
        )
        .await
    }

    async fn launch(
        database: Arc<Database>,
        master: Arc<MasterKey>,
        clock: Arc<ManualClock>,
        issuer: Option<String>,
        admin_listener: bool,
        configure: fn(&mut AuthConfig),
    ) -> Self {
        let store = latchkey_store::connect(&database.url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = issuer.unwrap_or_else(|| base.clone());
        let mut config = AuthConfig::with_defaults(&issuer);
        configure(&mut config);
        let context = Arc::new(
            Context::start(config, store, clock.clone(), &master)
                .await
                .unwrap(),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let admin = if admin_listener {
            Some(TcpListener::bind("127.0.0.1:0").await.unwrap())
        } else {
            None
        };
        let admin_base = admin
            .as_ref()
            .map(|admin| format!("http://{}", admin.local_addr().unwrap()));
        let listeners = latchkey_server::Listeners {
            public: listener,
            admin,
        };
        let task = tokio::spawn(latchkey_server::serve(listeners, Arc::clone(&context), async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            admin_base,
            issuer,
            context,
            clock,
            http,
            master,
            database,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it to drain.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.context.store.as_ref()
    }

    /// The database this server runs on (kept alive by the returned handle).
    pub(crate) fn database(&self) -> Arc<Database> {
        Arc::clone(&self.database)
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client through the registry, as `latchkey client create` does.
    pub(crate) async fn register(&self, edit: impl FnOnce(&mut ClientRegistration)) -> Registered {
        let mut registration = ClientRegistration {
            name: "Test client".into(),
            ..Default::default()
        };
        edit(&mut registration);
        let hasher = SecretHasher::new(&self.master);
        let (client, secret) =
            registry::register_client(self.store(), &hasher, &registration, self.clock.now())
                .await
                .unwrap();
        Registered {
            id: client.id.to_string(),
            secret: secret.map(|s| s.expose().to_owned()).unwrap_or_default(),
        }
    }

    /// Creates a user with this password; returns their `sub`.
    pub(crate) async fn user(&self, username: &str, password: &str) -> String {
        let user = latchkey_core::user::User {
            id: latchkey_core::id::UserId::generate(),
            username: username.to_owned(),
            email: Some(format!("{username}@example.com")),
            name: Some(format!("{username} Example")),
            created_at: self.clock.now(),
        };
        let hash = latchkey_core::user::hash_password(password).unwrap();
        self.store().insert_user(&user, &hash).await.unwrap();
        user.id.to_string()
    }

    /// A confidential web client for the code flow with refresh tokens.
    pub(crate) async fn web_client(&self, scopes: &[&str]) -> Registered {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.register(|r| {
            r.name = "Notes Web".into();
            r.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
            r.redirect_uris = vec!["https://app.example.com/cb".into()];
            r.scopes = scopes;
        })
        .await
    }

    /// A confidential client-credentials client allowed `scopes`.
    pub(crate) async fn service_client(&self, scopes: &[&str]) -> Registered {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.register(|r| r.scopes = scopes).await
    }

    /// POSTs a form with Basic credentials.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        auth: Option<&Registered>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(client) = auth {
            request = request.basic_auth(&client.id, Some(&client.secret));
        }
        request.send().await.unwrap()
    }

    /// A client-credentials token for `client`.
    pub(crate) async fn token(&self, client: &Registered, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.post_form("/oauth2/token", Some(client), &form).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The served JWK Set.
    pub(crate) async fn jwks(&self) -> serde_json::Value {
        let response = self
            .http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Introspects `token` as `caller` and returns the JSON body.
    pub(crate) async fn introspect(&self, caller: &Registered, token: &str) -> serde_json::Value {
        let response = self
            .post_form("/oauth2/introspect", Some(caller), &[("token", token)])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts an RFC 6749 §5.2 error: status, `error` code, a description, and `no-store`.
pub(crate) async fn assert_oauth_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "content type"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        !body["error_description"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    body
}
