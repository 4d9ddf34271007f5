//! axum extractors: [`Verified`] for any valid token, [`RequireScope<S>`] for a token
//! granted the scope `S` names, declared in the handler's signature next to the route.
//!
//! Both find the [`LatchkeyAuth`] in the router's state through [`FromRef`], so the state
//! is either the `LatchkeyAuth` itself or a struct that hands one out:
//!
//! ```
//! use axum::extract::FromRef;
//! use latchkey_resource::LatchkeyAuth;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     auth: LatchkeyAuth,
//!     // database pool, settings, ...
//! }
//!
//! impl FromRef<AppState> for LatchkeyAuth {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.auth.clone()
//!     }
//! }
//! ```
//!
//! A request is verified once, however many of these extractors a handler takes: the first
//! stores the claims in the request extensions and the others, like those behind a
//! [`RequireScopeLayer`](crate::RequireScopeLayer), reuse them.

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::auth::LatchkeyAuth;
use crate::claims::{AccessClaims, Verified};
use crate::error::{AuthError, AuthFailure};

/// A scope a route requires, as a type, so that [`RequireScope`] can name it (an extractor
/// cannot take a string parameter). Declare them with [`scope!`](crate::scope!).
pub trait Scope: Send + Sync + 'static {
    /// The scope's name, as granted in the token's `scope` claim.
    const SCOPE: &'static str;
}

/// Declares marker types for [`RequireScope`]: `scope!(pub NotesWrite = "notes:write");`.
///
/// ```
/// latchkey_resource::scope! {
///     /// Reading notes.
///     pub NotesRead = "notes:read";
///     NotesWrite = "notes:write";
/// }
/// use latchkey_resource::Scope as _;
/// assert_eq!(NotesWrite::SCOPE, "notes:write");
/// ```
#[macro_export]
macro_rules! scope {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The `", $scope, "` scope, as a type for `RequireScope`.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Scope for $name {
            const SCOPE: &'static str = $scope;
        }
    )+};
}

impl<S> FromRequestParts<S> for Verified
where
    LatchkeyAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        if let Some(verified) = parts.extensions.get::<Verified>() {
            return Ok(verified.clone());
        }
        let auth = LatchkeyAuth::from_ref(state);
        let verified = auth.authenticate(&parts.headers, &parts.uri).await?;
        parts.extensions.insert(verified.clone());
        Ok(verified)
    }
}

/// An extractor that succeeds only for a valid token granted the scope `S`, answering
/// `403 insufficient_scope` (with `scope="..."` in the challenge) otherwise. Deref to the
/// token's [`AccessClaims`].
///
/// ```
/// use latchkey_resource::{RequireScope, scope};
///
/// scope!(NotesWrite = "notes:write");
///
/// async fn create_note(claims: RequireScope<NotesWrite>) -> String {
///     format!("note created by {}", claims.subject)
/// }
/// # let _: axum::routing::MethodRouter<latchkey_resource::LatchkeyAuth> =
/// #     axum::routing::post(create_note);
/// ```
pub struct RequireScope<S: Scope> {
    verified: Verified,
    scope: PhantomData<fn() -> S>,
}

impl<S: Scope> RequireScope<S> {
    /// The verified claims.
    pub fn into_inner(self) -> Verified {
        self.verified
    }
}

impl<S: Scope> std::fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScope")
            .field("scope", &S::SCOPE)
            .field("claims", &*self.verified)
            .finish()
    }
}

impl<S: Scope> Deref for RequireScope<S> {
    type Target = AccessClaims;
    fn deref(&self) -> &AccessClaims {
        &self.verified
    }
}

impl<T, S> FromRequestParts<T> for RequireScope<S>
where
    S: Scope,
    LatchkeyAuth: FromRef<T>,
    T: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &T) -> Result<Self, AuthError> {
        let verified = Verified::from_request_parts(parts, state).await?;
        if !verified.has_scope(S::SCOPE) {
            let auth = LatchkeyAuth::from_ref(state);
            return Err(auth.reject(AuthFailure::InsufficientScope(Cow::Borrowed(S::SCOPE))));
        }
        Ok(Self {
            verified,
            scope: PhantomData,
        })
    }
}
