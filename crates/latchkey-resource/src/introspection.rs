//! Introspection mode (RFC 7662): the authorization server is asked whether each token is
//! still active, so a revocation takes effect here within the cache lifetime rather than
//! when the token expires.
//!
//! Answers are cached by the token's SHA-256 for a short, configurable time (5 s by
//! default, never past the token's expiry), in a map of bounded size. Failed requests are
//! not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;

use crate::claims::{AccessClaims, Audience, split_scopes};
use crate::discovery::Source;
use crate::error::TokenError;
use crate::jwt::Expectations;
use crate::verified_cache::Fingerprint;

/// The members of an introspection response (RFC 7662 §2.2) this crate reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IntrospectionResponse {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    aud: Option<Audience>,
    iss: Option<String>,
    jti: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl IntrospectionResponse {
    /// The claims of an active token meant for us. An active answer must still name our
    /// audience (RFC 7662 §4: the server may not know which resource server asks) and an
    /// expiry, and must carry `sub` and `client_id`, which Latchkey always sends.
    pub(crate) fn into_claims(self, expect: &Expectations, now: i64) -> Result<AccessClaims, TokenError> {
        if !self.active {
            return Err(TokenError::Inactive);
        }
        if self.iss.as_deref().is_some_and(|iss| iss != expect.issuer) {
            return Err(TokenError::WrongIssuer);
        }
        let audience = self.aud.ok_or(TokenError::WrongAudience)?;
        if !audience.contains(&expect.audience) {
            return Err(TokenError::WrongAudience);
        }
        let exp = self.exp.ok_or(TokenError::Malformed)?;
        expect.check_lifetime(exp, self.nbf, now)?;
        Ok(AccessClaims {
            issuer: self.iss.unwrap_or_else(|| expect.issuer.clone()),
            subject: self.sub.ok_or(TokenError::Malformed)?,
            audience: audience.into_vec(),
            client_id: self.client_id.ok_or(TokenError::Malformed)?,
            scopes: split_scopes(self.scope.as_deref()),
            jti: self.jti,
            expires_at: exp,
            issued_at: self.iat,
            not_before: self.nbf,
            roles: crate::claims::string_list(&self.other, &expect.roles_claim),
        })
    }
}

type Outcome = Result<Arc<AccessClaims>, TokenError>;

/// Introspection with its cache.
#[derive(Debug)]
pub(crate) struct Introspector {
    ttl: i64,
    capacity: usize,
    cache: Mutex<HashMap<Fingerprint, (i64, Outcome)>>,
}

impl Introspector {
    /// Answers cached for `ttl` seconds (0: never), at most `capacity` of them.
    pub(crate) fn new(ttl: i64, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `token` (whose SHA-256 is `fingerprint`) is active and for us, from the
    /// cache or the authorization server.
    pub(crate) async fn check(
        &self,
        token: &str,
        fingerprint: Fingerprint,
        expect: &Expectations,
        now: i64,
        source: &Source,
    ) -> Outcome {
        if let Some(outcome) = self.cached(&fingerprint, now) {
            return outcome;
        }
        let response = source.introspect(token).await.map_err(|error| {
            tracing::warn!(%error, "token introspection failed");
            TokenError::Unavailable
        })?;
        let outcome = response.into_claims(expect, now).map(Arc::new);
        if self.ttl > 0 {
            let mut until = now.saturating_add(self.ttl);
            if let Ok(claims) = &outcome {
                until = until.min(claims.expires_at.saturating_add(expect.leeway));
            }
            self.remember(fingerprint, until, outcome.clone(), now);
        }
        outcome
    }

    fn cached(&self, fingerprint: &Fingerprint, now: i64) -> Option<Outcome> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(fingerprint)
            .filter(|(until, _)| now < *until)
            .map(|(_, outcome)| outcome.clone())
    }

    /// Stores an answer; a full cache drops its expired entries, then everything.
    fn remember(&self, fingerprint: Fingerprint, until: i64, outcome: Outcome, now: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= self.capacity {
            cache.retain(|_, (entry_until, _)| now < *entry_until);
            if cache.len() >= self.capacity {
                cache.clear();
            }
        }
        cache.insert(fingerprint, (until, outcome));
    }

    #[cfg(test)]
    pub(crate) fn cached_len(&self) -> usize {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}
