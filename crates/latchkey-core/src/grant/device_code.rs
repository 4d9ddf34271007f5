//! Polling for tokens with a device code (RFC 8628 §3.4-3.5). A poll that answers
//! `authorization_pending` or `slow_down` costs one indexed read; the pace is kept in
//! memory. An approved code is spent by exactly one poll.

use std::time::Duration;

use super::TokenResponse;
use super::issue::tokens_for_family;
use crate::client::{Client, GrantType};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::device::{DeviceStatus, PollPace};
use crate::error::OAuthError;
use crate::secret::OpaqueToken;

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::InvalidGrant(description.into())
}

/// Answers one poll.
pub(super) async fn exchange(
    context: &Context,
    client: &Client,
    device_code: &str,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    if device_code.len() > 128 {
        return Err(invalid_grant("the device code is invalid"));
    }
    let hash = context.hasher.hash_token(&OpaqueToken::presented(device_code));
    let Some(device) = context.store.find_device_by_code(&hash).await? else {
        return Err(invalid_grant("the device code is invalid"));
    };
    if device.client_id != client.id {
        return Err(invalid_grant("the device code was issued to another client"));
    }
    if now >= device.expires_at {
        context.polls.forget(&hash);
        return Err(OAuthError::ExpiredToken);
    }
    match device.status {
        DeviceStatus::Spent => Err(invalid_grant("the device code was already used")),
        DeviceStatus::Denied => Err(OAuthError::AccessDenied("the user denied the request".into())),
        DeviceStatus::Pending => {
            let interval = context.config.device_poll_interval.max(Duration::from_secs(1));
            match context.polls.poll(&hash, now, interval) {
                PollPace::SlowDown(_) => Err(OAuthError::SlowDown),
                PollPace::Ok => Err(OAuthError::AuthorizationPending),
            }
        }
        DeviceStatus::Approved => {
            context.polls.forget(&hash);
            if !context.store.spend_device(&hash, now).await? {
                return Err(invalid_grant("the device code was already used"));
            }
            let family_id = device
                .family_id
                .ok_or_else(|| invalid_grant("the device code is invalid"))?;
            let family = context
                .store
                .find_family(&family_id)
                .await?
                .filter(|f| !f.revoked)
                .ok_or_else(|| invalid_grant("the grant has been revoked"))?;
            tokens_for_family(
                context,
                GrantType::DeviceCode,
                client,
                &family,
                &family.scopes,
                None,
                now,
            )
            .await
        }
    }
}
