//! The device flow's services: starting an authorization (RFC 8628 §3.1-3.2) and the
//! user's side of the verification page (§3.3), with brute-force defence (§5.1).

use std::sync::Arc;

use serde::Serialize;

use crate::audit::{self, Actor, AuditEvent, AuditKind};
use crate::authorize::Decision;
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::device::{DeviceAuthorization, DeviceStatus, FAILURE_LIMIT, FAILURE_WINDOW, UserCode};
use crate::discovery::paths;
use crate::error::{OAuthError, StoreError};
use crate::family::{Family, Session};
use crate::id::FamilyId;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::secret::OpaqueToken;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
pub struct DeviceAuthorizationResponse {
    /// The device's secret handle for polling.
    pub device_code: String,
    /// What the user types, `XXXX-XXXX`.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same, with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
}

/// Starts a device authorization for an authenticated (or public) client.
pub async fn start(
    context: &Context,
    client: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<DeviceAuthorizationResponse, OAuthError> {
    if !client.allows(GrantType::DeviceCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client is not registered for the device grant".into(),
        ));
    }
    let scopes = match params.get("scope") {
        None => client.scopes.clone(),
        Some(text) => ScopeSet::parse(text).map_err(|_| {
            OAuthError::InvalidScope("scope must be space-separated tokens (RFC 6749 section 3.3)".into())
        })?,
    };
    if !scopes.is_subset_of(&client.scopes) {
        return Err(OAuthError::InvalidScope(
            "the request asks for scopes this client is not registered for".into(),
        ));
    }
    let device_code = OpaqueToken::generate();
    let config = &context.config;
    let mut attempts = 0;
    let user_code = loop {
        let user_code = UserCode::generate();
        let device = DeviceAuthorization {
            device_code_hash: context.hasher.hash_token(&device_code),
            user_code: user_code.clone(),
            client_id: client.id.clone(),
            scopes: scopes.clone(),
            created_at: now,
            expires_at: now + config.device_code_ttl,
            status: DeviceStatus::Pending,
            family_id: None,
        };
        match context.store.insert_device_authorization(&device).await {
            Ok(()) => break user_code,
            // A live code with the same letters (one in 25 billion per pair): free it if it
            // has expired, and draw again.
            Err(StoreError::Conflict(_)) if attempts < 5 => {
                attempts += 1;
                context.store.release_expired_user_code(&user_code, now).await?;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let verification_uri = format!("{}{}", config.issuer, paths::DEVICE);
    Ok(DeviceAuthorizationResponse {
        device_code: device_code.expose().to_owned(),
        verification_uri_complete: format!("{verification_uri}?user_code={}", user_code.display()),
        user_code: user_code.display(),
        verification_uri,
        expires_in: config.device_code_ttl.as_secs(),
        interval: config.device_poll_interval.as_secs(),
    })
}

/// What a typed user code turned out to be.
#[derive(Debug)]
pub enum CodeLookup {
    /// A live, pending code: ask the user to confirm.
    Ready(Box<DeviceAuthorization>, Arc<Client>),
    /// No such code (or not a code at all).
    Unknown,
    /// It expired.
    Expired,
    /// It was approved or denied already.
    Used,
    /// Too many wrong codes from this address or session: wait.
    RateLimited,
}

/// Looks up a typed code for the people behind `subjects` (client address, session),
/// counting misses against each (RFC 8628 §5.1). A correct code still works for anyone
/// under the limit.
pub async fn lookup(
    context: &Context,
    typed: &str,
    subjects: &[String],
    now: Timestamp,
) -> Result<CodeLookup, OAuthError> {
    for subject in subjects {
        if context
            .store
            .user_code_failures(subject, now, FAILURE_WINDOW)
            .await?
            >= FAILURE_LIMIT
        {
            context
                .audit
                .record(
                    AuditEvent::new(AuditKind::RateLimited, now, &Actor::Anonymous)
                        .with("limit", "device_user_code"),
                )
                .await;
            return Ok(CodeLookup::RateLimited);
        }
    }
    let found = match UserCode::parse(typed) {
        Some(code) => context.store.find_device_by_user_code(&code).await?,
        None => None,
    };
    let Some(device) = found else {
        for subject in subjects {
            context
                .store
                .record_user_code_failure(subject, now, FAILURE_WINDOW)
                .await?;
        }
        return Ok(CodeLookup::Unknown);
    };
    if now >= device.expires_at {
        return Ok(CodeLookup::Expired);
    }
    if device.status != DeviceStatus::Pending {
        return Ok(CodeLookup::Used);
    }
    match context.find_client(&device.client_id, now).await? {
        Some(client) => Ok(CodeLookup::Ready(Box::new(device), client)),
        None => Ok(CodeLookup::Unknown),
    }
}

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Approved: the device's next poll gets tokens.
    Approved,
    /// Denied: the device's next poll gets `access_denied`.
    Denied,
    /// The code was no longer pending (decided elsewhere, or expired).
    TooLate,
}

/// Records the logged-in user's decision on a pending code.
pub async fn decide(
    context: &Context,
    device: &DeviceAuthorization,
    session: &Session,
    decision: Decision,
    now: Timestamp,
) -> Result<DeviceDecision, OAuthError> {
    let store = &context.store;
    let done = match decision {
        Decision::Deny => store
            .deny_device(&device.user_code, now)
            .await?
            .then_some(DeviceDecision::Denied),
        Decision::Allow => {
            let family = Family {
                id: FamilyId::generate(),
                client_id: device.client_id.clone(),
                user_id: session.user_id.clone(),
                scopes: crate::roles::permitted(context, &session.user_id, &device.scopes, now).await?,
                auth_time: session.auth_time,
                amr: session.amr.clone(),
                created_at: now,
                expires_at: now + context.config.refresh_token_ttl,
                revoked: false,
            };
            store.insert_family(&family).await?;
            store
                .approve_device(&device.user_code, &family.id, now)
                .await?
                .then_some(DeviceDecision::Approved)
        }
    };
    if let Some(outcome) = done {
        let kind = match outcome {
            DeviceDecision::Approved => AuditKind::ConsentGiven,
            _ => AuditKind::ConsentDenied,
        };
        audit::consent(
            context,
            kind,
            &session.user_id,
            &device.client_id,
            &device.scopes,
            "device",
            now,
        )
        .await;
    }
    Ok(done.unwrap_or(DeviceDecision::TooLate))
}
