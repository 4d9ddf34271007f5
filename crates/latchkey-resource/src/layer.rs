//! The tower layer: authentication and a scope requirement for any tower service whose
//! responses are axum responses, such as an axum route (`route_layer`) or handler
//! (`Handler::layer`).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::LatchkeyAuth;
use crate::claims::Verified;
use crate::error::AuthFailure;

/// Lets through only requests with a valid token (granted the scope, if one is set) and
/// puts the [`Verified`] claims in their extensions; answers the others as RFC 6750 says.
/// Made by [`LatchkeyAuth::require_scope`] and [`LatchkeyAuth::require_token`].
#[derive(Debug, Clone)]
pub struct RequireScopeLayer {
    auth: LatchkeyAuth,
    scope: Option<Cow<'static, str>>,
}

impl RequireScopeLayer {
    pub(crate) fn new(auth: LatchkeyAuth, scope: Option<Cow<'static, str>>) -> Self {
        Self { auth, scope }
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopeService {
            inner,
            auth: self.auth.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// The service [`RequireScopeLayer`] wraps around `S`.
#[derive(Debug, Clone)]
pub struct RequireScopeService<S> {
    inner: S,
    auth: LatchkeyAuth,
    scope: Option<Cow<'static, str>>,
}

impl<S, B> Service<Request<B>> for RequireScopeService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone is not ready; the ready one serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let scope = self.scope.clone();
        Box::pin(async move {
            // An outer layer may have verified this request already.
            let verified = match request.extensions().get::<Verified>() {
                Some(verified) => verified.clone(),
                None => match auth.authenticate(request.headers(), request.uri()).await {
                    Ok(verified) => verified,
                    Err(error) => return Ok(error.into_response()),
                },
            };
            if let Some(scope) = scope {
                if !verified.has_scope(&scope) {
                    return Ok(auth.reject(AuthFailure::InsufficientScope(scope)).into_response());
                }
            }
            request.extensions_mut().insert(verified);
            inner.call(request).await
        })
    }
}
