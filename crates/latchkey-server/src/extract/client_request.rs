//! A form request from a client that may authenticate: the parsed form plus the
//! credentials it presented, by header or body. Checking them is core's job.

use axum::extract::{FromRequest, Request};
use axum::http::header::AUTHORIZATION;
use latchkey_core::OAuthError;
use latchkey_core::client_auth::PresentedCredentials;
use latchkey_core::params::Params;

use super::OAuthForm;
use crate::error::ApiError;

/// The form and the presented client credentials.
#[derive(Debug)]
pub(crate) struct ClientRequest {
    pub(crate) params: Params,
    pub(crate) credentials: PresentedCredentials,
}

impl<S: Send + Sync> FromRequest<S> for ClientRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let authorization = match request.headers().get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| OAuthError::invalid_client("the Authorization header is not ASCII"))?
                    .to_owned(),
            ),
        };
        let OAuthForm(params) = OAuthForm::from_request(request, state).await?;
        let credentials = PresentedCredentials::from_request(authorization.as_deref(), &params)?;
        Ok(Self { params, credentials })
    }
}
