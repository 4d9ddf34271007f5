//! A Latchkey server (`Issuer`) whose JWKS requests are counted, and the notes API
//! (`NotesApi`) built with this crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::registry::{self, ClientRegistration};
use latchkey_core::secret::{MasterKey, SecretHasher};
use latchkey_core::{AuthConfig, Clock as _, Context, ManualClock, SystemClock};
use latchkey_resource::{AuthBuilder, LatchkeyAuth, RequireScope, scope};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub(crate) const AUDIENCE: &str = "https://notes.example";

/// A running Latchkey server.
pub(crate) struct Issuer {
    pub(crate) base: String,
    pub(crate) context: Arc<Context>,
    pub(crate) clock: Arc<ManualClock>,
    master: Arc<MasterKey>,
    database: Arc<tempfile::TempDir>,
    jwks_requests: Arc<AtomicUsize>,
    http: reqwest::Client,
}

/// A registered confidential client.
pub(crate) struct Registered {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl Issuer {
    /// A fresh server whose tokens are for the notes API.
    pub(crate) async fn start() -> Self {
        let database = Arc::new(tempfile::tempdir().unwrap());
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        Self::launch(database, Arc::new(MasterKey::generate()), clock, |_| {}).await
    }

    /// A second server on the same database and keys, with the same issuer unless `edit`
    /// changes it: its tokens are signed by the same keys as this one's.
    pub(crate) async fn alongside(&self, edit: impl FnOnce(&mut AuthConfig)) -> Self {
        let master = Arc::new(MasterKey::from_base64(&self.master.to_base64()).unwrap());
        let issuer = self.base.clone();
        let edit = move |config: &mut AuthConfig| {
            config.issuer = issuer;
            edit(config);
        };
        Self::launch(Arc::clone(&self.database), master, Arc::clone(&self.clock), edit).await
    }

    async fn launch(
        database: Arc<tempfile::TempDir>,
        master: Arc<MasterKey>,
        clock: Arc<ManualClock>,
        edit: impl FnOnce(&mut AuthConfig),
    ) -> Self {
        let url = format!("sqlite://{}", database.path().join("lk.db").display());
        let store = latchkey_store::connect(&url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = AuthConfig::with_defaults(&base);
        config.default_audience = AUDIENCE.into();
        edit(&mut config);
        let context = Arc::new(
            Context::start(config, store, clock.clone(), &master)
                .await
                .unwrap(),
        );
        // The real router, behind a layer that counts JWKS requests so tests can tell how
        // often the library fetched it.
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&jwks_requests);
        let app = latchkey_server::router(latchkey_server::AppState::new(Arc::clone(&context))).layer(
            axum::middleware::from_fn(move |request: Request, next: Next| {
                if request.uri().path() == "/.well-known/jwks.json" {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                next.run(request)
            }),
        );
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base,
            context,
            clock,
            master,
            database,
            jwks_requests,
            http: reqwest::Client::new(),
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }

    /// Registers a client-credentials client allowed `scopes`.
    pub(crate) async fn service_client(&self, name: &str, scopes: &[&str]) -> Registered {
        let hasher = SecretHasher::new(&self.master);
        let registration = ClientRegistration {
            name: name.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        let (client, secret) = registry::register_client(
            self.context.store.as_ref(),
            &hasher,
            &registration,
            self.clock.now(),
        )
        .await
        .unwrap();
        Registered {
            id: client.id.to_string(),
            secret: secret.unwrap().expose().to_owned(),
        }
    }

    /// A client-credentials access token for `client`, with its registered scopes.
    pub(crate) async fn token(&self, client: &Registered) -> String {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes `token` (RFC 7009) as `client`.
    pub(crate) async fn revoke(&self, client: &Registered, token: &str) {
        let response = self
            .http
            .post(format!("{}/oauth2/revoke", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Rotates the ES256 key with no pre-publication: the next token is signed by a kid
    /// the library has never seen.
    pub(crate) async fn rotate_key(&self) {
        // Keys that activate in the same second are ordered by kid: a second later, the new
        // key surely takes over.
        self.clock.advance(Duration::from_secs(1));
        let sealer = latchkey_core::keys::KeySealer::new(&self.master).unwrap();
        latchkey_core::keys::rotate(
            self.context.store.as_ref(),
            &sealer,
            latchkey_core::keys::Algorithm::Es256,
            self.clock.now(),
            Duration::from_secs(0),
        )
        .await
        .unwrap();
        self.context.refresh_keys().await.unwrap();
    }

    /// The library, set up for this issuer, with its own clock and `edit`ed settings.
    pub(crate) async fn auth(
        &self,
        edit: impl FnOnce(AuthBuilder) -> AuthBuilder,
    ) -> (LatchkeyAuth, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(self.clock.now()));
        let library_clock = Arc::clone(&clock);
        let builder = LatchkeyAuth::builder(&self.base, AUDIENCE)
            .realm("notes")
            .clock(move || library_clock.now().as_secs());
        (edit(builder).discover().await.unwrap(), clock)
    }
}

scope! {
    NotesRead = "notes:read";
    NotesWrite = "notes:write";
}

async fn list_notes(claims: RequireScope<NotesRead>) -> Json<Value> {
    Json(json!({
        "sub": claims.subject,
        "client_id": claims.client_id,
        "scope": claims.scopes,
        "jti": claims.jti,
        "exp": claims.expires_at,
    }))
}

async fn create_note(claims: RequireScope<NotesWrite>) -> Json<Value> {
    Json(json!({"created_by": claims.subject}))
}

/// The notes API, served on its own port.
pub(crate) struct NotesApi {
    base: String,
    http: reqwest::Client,
}

/// An answer of the notes API.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) challenge: Option<String>,
    pub(crate) body: Value,
}

impl NotesApi {
    pub(crate) async fn serve(auth: LatchkeyAuth) -> Self {
        let app = Router::new()
            .route("/notes", get(list_notes).post(create_note))
            .with_state(auth);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// `GET /notes` with this `Authorization` header, if any.
    pub(crate) async fn list(&self, authorization: Option<&str>) -> Answer {
        self.send(self.http.get(format!("{}/notes", self.base)), authorization)
            .await
    }

    /// `POST /notes` with this Bearer token.
    pub(crate) async fn create(&self, token: &str) -> Answer {
        let authorization = format!("Bearer {token}");
        self.send(
            self.http.post(format!("{}/notes", self.base)),
            Some(&authorization),
        )
        .await
    }

    /// `GET {path}` without a token.
    pub(crate) async fn get(&self, path_and_query: &str) -> Answer {
        self.send(self.http.get(format!("{}{path_and_query}", self.base)), None)
            .await
    }

    async fn send(&self, mut request: reqwest::RequestBuilder, authorization: Option<&str>) -> Answer {
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            challenge,
            body,
        }
    }
}

/// `Bearer {token}`.
pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
