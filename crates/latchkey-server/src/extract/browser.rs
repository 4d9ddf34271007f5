//! What a browser request carries: cookies, and through them the session and the CSRF
//! secret. CSRF uses signed double-submit: a random `latchkey_csrf` cookie (HttpOnly,
//! SameSite=Lax) and, in every form, a MAC of it under a server key, so a cross-site page
//! can neither read the cookie nor forge the field.

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use latchkey_core::secret::OpaqueToken;
use latchkey_core::{Context, login};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "latchkey_session";
/// The CSRF cookie's name.
pub(crate) const CSRF_COOKIE: &str = "latchkey_csrf";
/// The cookie of a half-done sign-in waiting for its second-step code (sealed, 5 minutes).
pub(crate) const MFA_COOKIE: &str = "latchkey_mfa";
/// The cookie of a passkey ceremony in progress (its sealed challenge, 5 minutes).
pub(crate) const PASSKEY_COOKIE: &str = "latchkey_webauthn";
/// The cookie of a sign-in in progress at an upstream provider (sealed, 10 minutes).
pub(crate) const UPSTREAM_COOKIE: &str = "latchkey_upstream";

/// The cookies of a request.
#[derive(Debug, Default)]
pub(crate) struct Cookies(Vec<(String, String)>);

impl Cookies {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cookies {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(Self(pairs))
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when the issuer is https.
pub(crate) fn set_cookie(context: &Context, name: &str, value: &str, max_age_secs: Option<u64>) -> String {
    let secure = if context.config.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let max_age = max_age_secs
        .map(|secs| format!("; Max-Age={secs}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{max_age}")
}

/// The CSRF state of a browser request.
pub(crate) struct Csrf {
    /// The field value forms must carry.
    pub(crate) token: String,
    /// A `Set-Cookie` to send if the browser had no CSRF cookie yet.
    pub(crate) set_cookie: Option<String>,
}

impl Csrf {
    /// The CSRF token for this browser, creating its cookie if needed.
    pub(crate) fn for_browser(context: &Context, cookies: &Cookies) -> Self {
        match cookies
            .get(CSRF_COOKIE)
            .filter(|v| !v.is_empty() && v.len() <= 128)
        {
            Some(secret) => Self {
                token: context.hasher.mac("csrf", secret),
                set_cookie: None,
            },
            None => {
                let secret = OpaqueToken::generate();
                Self {
                    token: context.hasher.mac("csrf", secret.expose()),
                    set_cookie: Some(set_cookie(context, CSRF_COOKIE, secret.expose(), None)),
                }
            }
        }
    }

    /// Whether a submitted form's `csrf_token` matches the browser's cookie.
    pub(crate) fn verify(context: &Context, cookies: &Cookies, submitted: Option<&str>) -> bool {
        match (cookies.get(CSRF_COOKIE), submitted) {
            (Some(secret), Some(submitted)) if !secret.is_empty() => {
                let expected = context.hasher.mac("csrf", secret);
                latchkey_core::secret::constant_time_eq(expected.as_bytes(), submitted.as_bytes())
            }
            _ => false,
        }
    }

    /// The cookies to set with a page.
    pub(crate) fn cookies(&self) -> Vec<String> {
        self.set_cookie.iter().cloned().collect()
    }
}

/// The live session of this browser, if any.
pub(crate) async fn session(
    context: &Context,
    cookies: &Cookies,
    now: latchkey_core::Timestamp,
) -> Result<Option<latchkey_core::family::Session>, latchkey_core::OAuthError> {
    match cookies.get(SESSION_COOKIE) {
        Some(value) => login::find_session(context, value, now).await,
        None => Ok(None),
    }
}
