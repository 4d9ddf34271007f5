//! Extractors: the edge where HTTP requests become core's parsed types.

pub(crate) mod browser;
mod client_request;
mod oauth_form;

pub(crate) use client_request::ClientRequest;
pub(crate) use oauth_form::{OAuthForm, parse as parse_form};
