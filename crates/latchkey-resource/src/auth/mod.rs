//! [`LatchkeyAuth`], the verifier an API shares between its routes.

mod builder;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderMap, Uri};

pub use builder::AuthBuilder;

use crate::bearer::bearer_token;
use crate::claims::Verified;
use crate::clock::Clock;
use crate::discovery::Source;
use crate::error::{AuthError, AuthFailure, DiscoveryError, TokenError};
use crate::introspection::Introspector;
use crate::jwt::{self, Expectations};
use crate::keys::KeyCache;
use crate::layer::RequireScopeLayer;
use crate::verified_cache::{VerifiedCache, fingerprint};

/// Verifies Latchkey access tokens for one API (one audience) of one issuer.
///
/// Cheap to clone (an `Arc` inside): make one at startup with [`LatchkeyAuth::discover`] or
/// [`LatchkeyAuth::builder`] and share it, as axum state (the [extractors](crate::extract)
/// find it through `FromRef`) or inside the [layers](LatchkeyAuth::require_scope) it makes.
///
/// In the default, local mode a token is accepted if it is an RFC 9068 access token signed
/// by one of the issuer's keys, issued by the issuer, for this audience and within its
/// lifetime: no request to the authorization server per token, and so no view of
/// revocations until the token expires. [Introspection mode](AuthBuilder::introspection)
/// adds a (briefly cached) RFC 7662 check of every token that passed the local checks.
#[derive(Clone)]
pub struct LatchkeyAuth(Arc<Inner>);

struct Inner {
    expect: Expectations,
    realm: Arc<str>,
    clock: Arc<dyn Clock>,
    keys: KeyCache,
    verified: VerifiedCache,
    source: Source,
    introspection: Option<Introspector>,
}

impl std::fmt::Debug for LatchkeyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatchkeyAuth")
            .field("issuer", &self.0.expect.issuer)
            .field("audience", &self.0.expect.audience)
            .field("source", &self.0.source)
            .field("introspection", &self.0.introspection.is_some())
            .finish_non_exhaustive()
    }
}

impl LatchkeyAuth {
    /// Fetches the issuer's discovery document and JWKS, with every setting at its default:
    /// 60 s leeway, JWKS refetched for an unknown `kid` at most every 30 s, local
    /// verification only.
    ///
    /// `issuer` is the issuer identifier exactly as tokens carry it in `iss` (Latchkey's
    /// `--issuer`), and `audience` this API's identifier, which tokens must carry in `aud`
    /// (for Latchkey, its `--default-audience`).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), latchkey_resource::DiscoveryError> {
    /// let auth = latchkey_resource::LatchkeyAuth::discover(
    ///     "https://id.example.com",
    ///     "https://notes.example.com",
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn discover(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, DiscoveryError> {
        Self::builder(issuer, audience).discover().await
    }

    /// A builder, to change settings before discovery.
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> AuthBuilder {
        AuthBuilder::new(issuer.into(), audience.into())
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.0.expect.issuer
    }

    /// The audience tokens must name: this API.
    pub fn audience(&self) -> &str {
        &self.0.expect.audience
    }

    /// The realm of the `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.0.realm
    }

    /// Verifies an access token: the signature against the issuer's keys (refetching them
    /// once, rate-limited, for an unknown `kid`), `typ`, `iss`, `aud`, `exp` and `nbf`, and
    /// in introspection mode whether it is still active.
    ///
    /// ```no_run
    /// # async fn example(auth: latchkey_resource::LatchkeyAuth, token: &str) {
    /// match auth.verify(token).await {
    ///     Ok(claims) => println!("{} may {:?}", claims.subject, claims.scopes),
    ///     Err(error) => println!("refused: {error}"),
    /// }
    /// # }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let now = self.0.clock.now();
        let result = self.verify_at(token, now).await;
        if let Err(error) = &result {
            tracing::debug!(%error, "access token refused");
        }
        result
    }

    async fn verify_at(&self, token: &str, now: i64) -> Result<Verified, TokenError> {
        let inner = &*self.0;
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let fingerprint = fingerprint(token);
        let cached = inner
            .keys
            .fresh_generation(now)
            .and_then(|generation| inner.verified.get(&fingerprint, generation));
        let claims = match cached {
            Some(claims) => {
                inner
                    .expect
                    .check_lifetime(claims.expires_at, claims.not_before, now)?;
                claims
            }
            None => {
                let unverified = jwt::parse(token)?;
                let (key, generation) = inner.keys.key_for(unverified.kid(), now, &inner.source).await?;
                let claims = Arc::new(unverified.verify(&key, &inner.expect, now)?);
                let leeway = inner.expect.leeway;
                inner
                    .verified
                    .insert(fingerprint, generation, Arc::clone(&claims), now, leeway);
                claims
            }
        };
        match &inner.introspection {
            None => Ok(Verified(claims)),
            // The local checks come first: a forged token never costs the authorization
            // server a request, however many are sent.
            Some(introspector) => introspector
                .check(token, fingerprint, &inner.expect, now, &inner.source)
                .await
                .map(Verified),
        }
    }

    /// Finds the Bearer token of a request (header only, RFC 6750 §2.1) and verifies it;
    /// the error is ready to be the response. For services that are neither axum handlers
    /// nor behind [`RequireScopeLayer`].
    pub async fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Result<Verified, AuthError> {
        let token = bearer_token(headers, uri).map_err(|failure| self.reject(failure))?;
        self.verify(token)
            .await
            .map_err(|error| self.reject(AuthFailure::InvalidToken(error)))
    }

    /// `Ok` if `verified` was granted `scope`, else the `403 insufficient_scope` answer.
    pub fn check_scope(&self, verified: &Verified, scope: &str) -> Result<(), AuthError> {
        if verified.has_scope(scope) {
            Ok(())
        } else {
            Err(self.reject(AuthFailure::InsufficientScope(Cow::Owned(scope.to_owned()))))
        }
    }

    /// A tower layer that lets a request through only with a valid token granted `scope`,
    /// and puts its [`Verified`] claims in the request extensions.
    ///
    /// ```no_run
    /// # async fn example(auth: latchkey_resource::LatchkeyAuth) {
    /// use axum::routing::get;
    /// use axum::{Extension, Router};
    /// use latchkey_resource::Verified;
    ///
    /// async fn list_notes(Extension(claims): Extension<Verified>) -> String {
    ///     format!("notes of {}", claims.subject)
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/notes", get(list_notes).route_layer(auth.require_scope("notes:read")));
    /// # }
    /// ```
    pub fn require_scope(&self, scope: impl Into<Cow<'static, str>>) -> RequireScopeLayer {
        RequireScopeLayer::new(self.clone(), Some(scope.into()))
    }

    /// A tower layer that lets a request through with any valid token, whatever its scopes.
    pub fn require_token(&self) -> RequireScopeLayer {
        RequireScopeLayer::new(self.clone(), None)
    }

    /// The answer to `failure`, with this API's realm.
    pub(crate) fn reject(&self, failure: AuthFailure) -> AuthError {
        AuthError::new(failure, &self.0.realm)
    }
}
