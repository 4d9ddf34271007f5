//! Parsing and validating an authorization request. The client and redirect URI are
//! checked first: until both are known good, errors are shown as a page and never sent
//! to the URI (RFC 6749 §4.1.2.1); after that they redirect to the client.

use std::sync::Arc;

use super::response::redirect_url;
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::id::ClientId;
use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::scope::{OPENID, ScopeSet};

/// The response types Latchkey answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `code`.
    Code,
    /// `token` (implicit, legacy).
    Token,
    /// `id_token token` (implicit with OpenID Connect, legacy).
    IdTokenToken,
}

/// The `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: re-authenticate.
    pub login: bool,
    /// `consent`: ask again.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Arc<Client>,
    /// Where the response goes (verified).
    pub redirect_uri: String,
    /// Whether the request named it.
    pub redirect_given: bool,
    /// What to answer with.
    pub response_type: ResponseType,
    /// Requested scopes (within the client's).
    pub scopes: ScopeSet,
    /// Echoed back.
    pub state: Option<String>,
    /// PKCE.
    pub code_challenge: Option<CodeChallenge>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `acr_values` asked for a two-step sign-in (OpenID Connect Core §3.1.2.1).
    pub require_mfa: bool,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Client or redirect URI unknown: show an error page, never redirect.
    Page(OAuthError),
    /// Send the error to the verified redirect URI.
    Redirect(String),
    /// Something failed on our side.
    Internal(OAuthError),
}

impl AuthorizationRequest {
    fn fragment(&self) -> bool {
        self.response_type != ResponseType::Code
    }

    /// The success redirect, with `state` and `iss` added.
    pub fn success_redirect(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = &self.state {
            all.push(("state", state));
        }
        all.push(("iss", issuer));
        redirect_url(&self.redirect_uri, self.fragment(), &all)
    }

    /// An error redirect to the client.
    pub fn error_redirect(&self, issuer: &str, error: &OAuthError) -> String {
        self.success_redirect(
            issuer,
            &[
                ("error", error.code()),
                ("error_description", error.description()),
            ],
        )
    }

    /// Parses and validates the request parameters.
    pub async fn parse(context: &Context, params: &Params, now: Timestamp) -> Result<Self, AuthorizeError> {
        let page = |msg: &'static str| AuthorizeError::Page(OAuthError::invalid_request(msg));
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("the client_id parameter is missing"))?;
        if client_id.len() > 255 {
            return Err(page("unknown client"));
        }
        let client = context
            .find_client(&ClientId::new(client_id), now)
            .await
            .map_err(AuthorizeError::Internal)?
            .ok_or_else(|| page("unknown client"))?;
        Self::for_client(client, params, &context.config.issuer)
    }

    /// Validates the request parameters for a known `client` (everything [`Self::parse`]
    /// does after finding the client): no I/O, so it is unit-tested and fuzzed directly.
    pub fn for_client(client: Arc<Client>, params: &Params, issuer: &str) -> Result<Self, AuthorizeError> {
        let page = |msg: &'static str| AuthorizeError::Page(OAuthError::invalid_request(msg));
        let (redirect_uri, redirect_given) = match params.get("redirect_uri") {
            Some(given) => {
                if !client.redirect_uris.iter().any(|r| r.matches(given)) {
                    return Err(page("redirect_uri is not registered for this client"));
                }
                (given.to_owned(), true)
            }
            None => match client.redirect_uris.as_slice() {
                [only] => (only.as_str().to_owned(), false),
                [] => return Err(page("this client has no redirect URIs registered")),
                _ => {
                    return Err(page(
                        "redirect_uri is required: this client has several registered",
                    ));
                }
            },
        };
        // From here on, errors go back to the client.
        let response_type = match params.get("response_type") {
            Some("code") => ResponseType::Code,
            Some("token") => ResponseType::Token,
            Some("id_token token" | "token id_token") => ResponseType::IdTokenToken,
            _ => ResponseType::Code,
        };
        let mut request = Self {
            client,
            redirect_uri,
            redirect_given,
            response_type,
            scopes: ScopeSet::default(),
            state: params.get("state").map(str::to_owned),
            code_challenge: None,
            nonce: params.get("nonce").map(str::to_owned),
            prompt: Prompt::default(),
            max_age: None,
            require_mfa: params
                .get("acr_values")
                .is_some_and(|values| values.split(' ').any(|v| v == crate::mfa::ACR_MFA)),
        };
        match request.validate(params) {
            Ok(()) => Ok(request),
            Err(error) => Err(AuthorizeError::Redirect(request.error_redirect(issuer, &error))),
        }
    }

    fn validate(&mut self, params: &Params) -> Result<(), OAuthError> {
        match params.get("response_type") {
            None => {
                return Err(OAuthError::invalid_request(
                    "the response_type parameter is missing",
                ));
            }
            Some("code" | "token" | "id_token token" | "token id_token") => {}
            Some(_) => {
                return Err(OAuthError::UnsupportedResponseType(
                    "supported response types are code, and token or id_token token for implicit clients"
                        .into(),
                ));
            }
        }
        let grant = if self.response_type == ResponseType::Code {
            GrantType::AuthorizationCode
        } else {
            GrantType::Implicit
        };
        if !self.client.allows(grant) {
            return Err(OAuthError::UnauthorizedClient(
                format!("this client is not registered for the {grant} grant").into(),
            ));
        }
        match (params.get("response_mode"), self.response_type) {
            (None, _) | (Some("query"), ResponseType::Code) | (Some("fragment"), _) => {}
            _ => {
                return Err(OAuthError::invalid_request(
                    "response_mode must be query (code) or fragment",
                ));
            }
        }
        if params.get("request").is_some() || params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request("request objects are not supported"));
        }
        self.scopes = match params.get("scope") {
            None => self.client.scopes.clone(),
            Some(text) => ScopeSet::parse(text).map_err(|_| {
                OAuthError::InvalidScope("scope must be space-separated tokens (RFC 6749 section 3.3)".into())
            })?,
        };
        if !self.scopes.is_subset_of(&self.client.scopes) {
            return Err(OAuthError::InvalidScope(
                "the request asks for scopes this client is not registered for".into(),
            ));
        }
        if self.state.as_ref().is_some_and(|s| s.len() > 2048)
            || self.nonce.as_ref().is_some_and(|n| n.len() > 512)
        {
            // Not echoed: a redirect carrying tens of kilobytes of state would be refused
            // by proxies on the way back to the client.
            if self.state.as_ref().is_some_and(|s| s.len() > 2048) {
                self.state = None;
            }
            return Err(OAuthError::invalid_request("state or nonce is too long"));
        }
        if self.response_type == ResponseType::IdTokenToken {
            if !self.scopes.contains(OPENID) {
                return Err(OAuthError::invalid_request(
                    "id_token token needs the openid scope",
                ));
            }
            if self.nonce.is_none() {
                return Err(OAuthError::invalid_request(
                    "nonce is required for the implicit flow (OpenID Connect Core 3.2.2.1)",
                ));
            }
        }
        if self.response_type == ResponseType::Code {
            self.code_challenge =
                CodeChallenge::parse(params.get("code_challenge"), params.get("code_challenge_method"))?;
            if self.code_challenge.is_none() && self.client.is_public() {
                return Err(OAuthError::invalid_request(
                    "public clients must use PKCE with code_challenge_method=S256",
                ));
            }
        }
        self.prompt = parse_prompt(params.get("prompt"))?;
        self.max_age = params
            .get("max_age")
            .map(|text| text.parse::<i64>().ok().filter(|v| *v >= 0))
            .map(|parsed| {
                parsed.ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))
            })
            .transpose()?;
        Ok(())
    }
}

fn parse_prompt(text: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    for value in text.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => {
                return Err(OAuthError::invalid_request(
                    "prompt may be none, login, consent or select_account",
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}
