//! The authorization endpoint (RFC 6749 §4.1, §4.2; OpenID Connect Core §3): validate the
//! request, make sure the user is logged in and has consented, then answer the client.

mod request;
mod response;

pub use request::{AuthorizationRequest, AuthorizeError, Prompt, ResponseType};
pub use response::redirect_url;

use crate::audit::{self, AuditKind};
use crate::client::Client;
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::OAuthError;
use crate::family::{AuthorizationCode, Family, Session};
use crate::id::FamilyId;
use crate::scope::ScopeSet;
use crate::secret::OpaqueToken;
use crate::store::ScopeDescription;
use crate::token::{access, id_token};

/// What the user said on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
}

/// What to do next with a valid request.
#[derive(Debug)]
pub enum Outcome {
    /// The user must log in first (no session, `prompt=login`, or `max_age` exceeded).
    Login,
    /// Ask the user; `new_scopes` are those not approved before.
    Consent {
        /// Scopes to ask about, with descriptions.
        new_scopes: Vec<ScopeDescription>,
        /// Scopes approved before, for context.
        approved: Vec<ScopeDescription>,
    },
    /// Send the browser here (a code, tokens, or an error for the client).
    Redirect(String),
}

/// Decides and, where the answer is ready, issues the response.
pub async fn authorize(
    context: &Context,
    request: &AuthorizationRequest,
    session: Option<&Session>,
    decision: Option<Decision>,
    now: Timestamp,
) -> Result<Outcome, OAuthError> {
    let fresh_enough = |s: &Session| {
        request
            .max_age
            .is_none_or(|max| now.as_secs() - s.auth_time.as_secs() <= max)
    };
    let session = match session {
        Some(s) if fresh_enough(s) && !request.prompt.login => s,
        _ if request.prompt.none => {
            return Ok(Outcome::Redirect(request.error_redirect(
                &context.config.issuer,
                &OAuthError::LoginRequired("the user is not logged in".into()),
            )));
        }
        _ => return Ok(Outcome::Login),
    };
    // A client that asked for a two-step sign-in gets one (a step-up), or an error when the
    // user has no second factor to give.
    if request.require_mfa && crate::mfa::acr(&session.amr) != crate::mfa::ACR_MFA {
        let why = if request.prompt.none {
            OAuthError::LoginRequired("this application asks for two-step sign-in".into())
        } else if crate::mfa::has_second_factor(context, &session.user_id).await? {
            return Ok(Outcome::Login);
        } else {
            OAuthError::AccessDenied(
                "this application asks for two-step sign-in, which this account has not set up".into(),
            )
        };
        return Ok(Outcome::Redirect(
            request.error_redirect(&context.config.issuer, &why),
        ));
    }
    // Restricted scopes the user holds no role for are never offered nor granted.
    let narrowed;
    let permitted = crate::roles::permitted(context, &session.user_id, &request.scopes, now).await?;
    let request = if permitted == request.scopes {
        request
    } else {
        narrowed = AuthorizationRequest {
            scopes: permitted,
            ..request.clone()
        };
        &narrowed
    };
    // No user lookup: a session row is deleted with its user (ON DELETE CASCADE).
    let approved = context
        .store
        .find_consent(&session.user_id, &request.client.id)
        .await?
        .unwrap_or_default();
    match decision {
        Some(Decision::Deny) => {
            audit::consent(
                context,
                AuditKind::ConsentDenied,
                &session.user_id,
                &request.client.id,
                &request.scopes,
                "authorize",
                now,
            )
            .await;
            return Ok(Outcome::Redirect(request.error_redirect(
                &context.config.issuer,
                &OAuthError::AccessDenied("the user denied the request".into()),
            )));
        }
        Some(Decision::Allow) => {
            let union: ScopeSet = approved.iter().chain(request.scopes.iter()).cloned().collect();
            context
                .store
                .save_consent(&session.user_id, &request.client.id, &union, now)
                .await?;
            audit::consent(
                context,
                AuditKind::ConsentGiven,
                &session.user_id,
                &request.client.id,
                &request.scopes,
                "authorize",
                now,
            )
            .await;
        }
        None => {
            let covered = request.scopes.is_subset_of(&approved) && !request.prompt.consent;
            if !covered {
                if request.prompt.none {
                    return Ok(Outcome::Redirect(request.error_redirect(
                        &context.config.issuer,
                        &OAuthError::ConsentRequired("the user has not approved these scopes".into()),
                    )));
                }
                let asked: ScopeSet = if request.prompt.consent {
                    request.scopes.clone()
                } else {
                    request.scopes.filtered(|s| !approved.contains(s.as_str()))
                };
                let already = request.scopes.filtered(|s| !asked.contains(s.as_str()));
                return Ok(Outcome::Consent {
                    new_scopes: describe(context, &asked).await?,
                    approved: describe(context, &already).await?,
                });
            }
        }
    }
    issue(context, request, session, now).await.map(Outcome::Redirect)
}

/// The descriptions of `scopes`, in order; a scope without one is described by its name.
pub async fn describe(context: &Context, scopes: &ScopeSet) -> Result<Vec<ScopeDescription>, OAuthError> {
    let known = context.store.list_scopes().await?;
    Ok(scopes
        .iter()
        .map(|scope| {
            known
                .iter()
                .find(|d| &d.scope == scope)
                .cloned()
                .unwrap_or_else(|| ScopeDescription {
                    scope: scope.clone(),
                    description: scope.as_str().to_owned(),
                })
        })
        .collect())
}

async fn issue(
    context: &Context,
    request: &AuthorizationRequest,
    session: &Session,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let client: &Client = &request.client;
    let issuer = &context.config.issuer;
    match request.response_type {
        ResponseType::Code => {
            let family = Family {
                id: FamilyId::generate(),
                client_id: client.id.clone(),
                user_id: session.user_id.clone(),
                scopes: request.scopes.clone(),
                auth_time: session.auth_time,
                amr: session.amr.clone(),
                created_at: now,
                expires_at: now + context.config.refresh_token_ttl,
                revoked: false,
            };
            let code = OpaqueToken::generate();
            let record = AuthorizationCode {
                hash: context.hasher.hash_token(&code),
                family_id: family.id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                redirect_given: request.redirect_given,
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                expires_at: now + context.config.auth_code_ttl,
            };
            context.store.insert_family_with_code(&family, &record).await?;
            Ok(request.success_redirect(issuer, &[("code", code.expose())]))
        }
        ResponseType::Token | ResponseType::IdTokenToken => {
            // Implicit (legacy): an access token in the fragment, never a refresh token.
            let extra = crate::roles::claims(context, &session.user_id, &request.scopes).await?;
            let token = access::issue(
                context,
                client.id.as_str(),
                session.user_id.as_str(),
                &request.scopes,
                None,
                extra.clone(),
                now,
            )?;
            audit::token_issued(
                context,
                "implicit",
                &client.id,
                Some(&session.user_id),
                &request.scopes,
                &token.jti,
                None,
                now,
            )
            .await;
            let expires_in = token.expires_in.to_string();
            let scope = request.scopes.to_string();
            let mut params = vec![
                ("access_token", token.token.as_str()),
                ("token_type", "Bearer"),
                ("expires_in", expires_in.as_str()),
                ("scope", scope.as_str()),
            ];
            let id_token;
            if request.response_type == ResponseType::IdTokenToken {
                id_token = id_token::issue(
                    context,
                    client,
                    session.user_id.as_str(),
                    id_token::SignIn {
                        time: session.auth_time,
                        amr: &session.amr,
                    },
                    request.nonce.as_deref(),
                    Some(&token.token),
                    &extra,
                    now,
                )?;
                params.push(("id_token", id_token.as_str()));
            }
            Ok(request.success_redirect(issuer, &params))
        }
    }
}
