//! Extractors: the edge where HTTP requests become core's parsed types.

mod client_request;
mod oauth_form;

pub(crate) use client_request::ClientRequest;
pub(crate) use oauth_form::OAuthForm;
