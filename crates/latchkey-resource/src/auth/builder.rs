//! Settings of a [`LatchkeyAuth`], and discovery.

use std::sync::Arc;
use std::time::Duration;

use super::{Inner, LatchkeyAuth};
use crate::clock::{Clock, SystemClock};
use crate::discovery::{
    HttpSource, IntrospectionEndpoint, JwksProvider, LocalSource, Source, fetch_metadata,
};
use crate::error::DiscoveryError;
use crate::introspection::Introspector;
use crate::jwt::Expectations;
use crate::keys::{KeyCache, KeySet, parse_jwks};
use crate::verified_cache::VerifiedCache;

/// How long the default HTTP client waits for the authorization server.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for a [`LatchkeyAuth`]; [`AuthBuilder::discover`] makes it.
///
/// ```no_run
/// # async fn example() -> Result<(), latchkey_resource::DiscoveryError> {
/// use std::time::Duration;
///
/// let auth = latchkey_resource::LatchkeyAuth::builder("https://id.example.com", "https://notes.example.com")
///     .leeway(Duration::from_secs(30))
///     .realm("notes")
///     .introspection("notes-api", "its-client-secret")
///     .introspection_cache_ttl(Duration::from_secs(2))
///     .discover()
///     .await?;
/// # Ok(()) }
/// ```
pub struct AuthBuilder {
    issuer: String,
    audience: String,
    realm: Option<String>,
    roles_claim: String,
    leeway: Duration,
    jwks_refetch_interval: Duration,
    jwks_max_age: Duration,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    introspection: Option<(String, String)>,
    introspection_cache_ttl: Duration,
    introspection_cache_capacity: usize,
    verified_cache_capacity: usize,
}

impl std::fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("realm", &self.realm)
            .field("leeway", &self.leeway)
            .field("jwks_refetch_interval", &self.jwks_refetch_interval)
            .field("jwks_max_age", &self.jwks_max_age)
            .field(
                "introspection_client_id",
                &self.introspection.as_ref().map(|(id, _)| id),
            )
            .field("introspection_cache_ttl", &self.introspection_cache_ttl)
            .field("verified_cache_capacity", &self.verified_cache_capacity)
            .finish_non_exhaustive()
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl AuthBuilder {
    pub(super) fn new(issuer: String, audience: String) -> Self {
        Self {
            issuer,
            audience,
            realm: None,
            roles_claim: "roles".to_owned(),
            leeway: Duration::from_secs(60),
            jwks_refetch_interval: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(300),
            http: None,
            clock: Arc::new(SystemClock),
            introspection: None,
            introspection_cache_ttl: Duration::from_secs(5),
            introspection_cache_capacity: 10_000,
            verified_cache_capacity: 10_000,
        }
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches caused by tokens with an unknown `kid`
    /// (default 30 s). Tokens naming an unknown key in between are refused without a fetch,
    /// so a flood of them costs the authorization server at most one request per interval.
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_refetch_interval = interval;
        self
    }

    /// How long a fetched JWKS is used before it is fetched again, so that keys the issuer
    /// withdrew stop verifying (default 300 s, Latchkey's JWKS `max-age`).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// The claim that names the user's roles (default `roles`, as Latchkey's
    /// `--roles-claim`).
    pub fn roles_claim(mut self, name: impl Into<String>) -> Self {
        self.roles_claim = name.into();
        self
    }

    /// The realm of the `WWW-Authenticate` challenges (default: the audience).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The HTTP client to reach the authorization server with. The default has a 10 s
    /// timeout and follows no redirects. This crate enables no TLS backend of its own:
    /// for an `https` issuer, pass a client built with one, or enable one in your own
    /// `reqwest` dependency (for example `features = ["rustls-tls"]`; features unify).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The time source for `exp` and `nbf` and for the caches (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Introspection mode (RFC 7662): after the local checks, ask the authorization server
    /// whether the token is still active, authenticating as this API's own confidential
    /// client with HTTP Basic (`client_secret_basic`). Use it where a revoked token must
    /// stop working at once rather than when it expires.
    pub fn introspection(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.introspection = Some((client_id.into(), client_secret.into()));
        self
    }

    /// How long an introspection answer is reused (default 5 s; zero asks every time). This
    /// is how long a revoked token may still be accepted.
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_cache_ttl = ttl;
        self
    }

    /// How many introspection answers are kept at most (default 10,000).
    pub fn introspection_cache_capacity(mut self, capacity: usize) -> Self {
        self.introspection_cache_capacity = capacity.max(1);
        self
    }

    /// How many verified tokens are remembered (default 10,000; zero turns it off), so a
    /// token presented again is not verified again: a signature check costs tens of
    /// microseconds, a lookup about one. Entries are dropped when the JWKS is fetched again,
    /// and `exp` is checked on every use.
    pub fn verified_cache_capacity(mut self, capacity: usize) -> Self {
        self.verified_cache_capacity = capacity;
        self
    }

    /// Fetches the discovery document and the JWKS, and makes the verifier.
    ///
    /// Fails if the document names another issuer, if the JWKS has no usable ES256 or
    /// RS256 key, or if introspection was asked for and the issuer has no endpoint for it.
    pub async fn discover(mut self) -> Result<LatchkeyAuth, DiscoveryError> {
        self.validate()?;
        let client = match self.http.take() {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|source| DiscoveryError::Http {
                    url: self.issuer.clone(),
                    source,
                })?,
        };
        let metadata = fetch_metadata(&client, &self.issuer).await?;
        let introspection = match self.introspection.take() {
            None => None,
            Some((id, secret)) => {
                let url = metadata
                    .introspection_endpoint
                    .ok_or(DiscoveryError::NoIntrospectionEndpoint)?;
                Some(IntrospectionEndpoint::new(url, &id, &secret)?)
            }
        };
        let introspecting = introspection.is_some();
        let source = Source::Http(HttpSource {
            client,
            jwks_uri: metadata.jwks_uri.clone(),
            introspection,
        });
        let keys = source.fetch_jwks().await?;
        if keys.is_empty() {
            return Err(DiscoveryError::NoUsableKeys(metadata.jwks_uri));
        }
        tracing::info!(issuer = %self.issuer, keys = keys.len(), introspecting, "discovered the issuer");
        Ok(self.assemble(source, keys, introspecting))
    }

    /// Makes the verifier from keys handed over in process, without discovery: for a
    /// service that embeds the issuer. The provider is asked again, like a JWKS URL would
    /// be fetched again, when a token names an unknown `kid` (at most once per
    /// [`jwks_refetch_interval`](Self::jwks_refetch_interval)). Introspection mode is not
    /// available this way.
    pub fn local_keys(self, provider: Arc<dyn JwksProvider>) -> Result<LatchkeyAuth, DiscoveryError> {
        self.validate()?;
        if self.introspection.is_some() {
            return Err(DiscoveryError::InvalidSetting(
                "introspection needs the issuer's endpoint: use discover()",
            ));
        }
        let local = LocalSource(provider);
        let body = local.0.jwks().map_err(|reason| DiscoveryError::Document {
            url: "in-process JWKS".into(),
            reason,
        })?;
        let keys = parse_jwks(&body).map_err(|reason| DiscoveryError::Document {
            url: "in-process JWKS".into(),
            reason,
        })?;
        if keys.is_empty() {
            return Err(DiscoveryError::NoUsableKeys("in-process JWKS".into()));
        }
        Ok(self.assemble(Source::Local(local), keys, false))
    }

    fn validate(&self) -> Result<(), DiscoveryError> {
        if self.issuer.is_empty() {
            return Err(DiscoveryError::InvalidSetting("the issuer is empty"));
        }
        if self.audience.is_empty() {
            return Err(DiscoveryError::InvalidSetting("the audience is empty"));
        }
        let realm = self.realm.as_deref().unwrap_or(&self.audience);
        // The realm goes into a header: printable ASCII only.
        if !realm.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(DiscoveryError::InvalidSetting(
                "the realm must be printable ASCII",
            ));
        }
        Ok(())
    }

    fn assemble(self, source: Source, keys: KeySet, introspecting: bool) -> LatchkeyAuth {
        let now = self.clock.now();
        let realm = self.realm.unwrap_or_else(|| self.audience.clone());
        LatchkeyAuth(Arc::new(Inner {
            expect: Expectations {
                issuer: self.issuer,
                audience: self.audience,
                leeway: secs(self.leeway),
                roles_claim: self.roles_claim,
            },
            realm: realm.into(),
            keys: KeyCache::new(
                keys,
                now,
                secs(self.jwks_refetch_interval),
                secs(self.jwks_max_age),
            ),
            verified: VerifiedCache::new(self.verified_cache_capacity),
            source,
            introspection: introspecting.then(|| {
                Introspector::new(
                    secs(self.introspection_cache_ttl),
                    self.introspection_cache_capacity,
                )
            }),
            clock: self.clock,
        }))
    }

    /// A verifier over a fake issuer, for unit tests.
    #[cfg(test)]
    pub(crate) fn build_with(self, source: Source, introspecting: bool) -> LatchkeyAuth {
        let keys = match &source {
            Source::Fake(fake) => fake.current_keys(),
            Source::Http(_) | Source::Local(_) => KeySet::new(),
        };
        self.assemble(source, keys, introspecting)
    }
}
