//! Server-rendered pages (askama, escaped by default) and the headers every page carries.

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::store::ScopeDescription;

/// A scope as a page shows it.
#[derive(Debug)]
pub(crate) struct ScopeView {
    pub(crate) name: String,
    pub(crate) description: String,
}

impl From<ScopeDescription> for ScopeView {
    fn from(d: ScopeDescription) -> Self {
        Self {
            name: d.scope.to_string(),
            description: d.description,
        }
    }
}

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) providers: Vec<ProviderButton>,
    pub(crate) csrf_token: String,
    pub(crate) return_to: String,
    pub(crate) username: String,
    pub(crate) error: Option<String>,
    pub(crate) client_name: Option<String>,
    /// The passwordless passkey sign-in.
    pub(crate) passkey: PasskeyRequest,
}

/// A passkey ceremony a page hands to `/assets/passkey.js`, as data attributes of its form.
#[derive(Debug)]
pub(crate) struct PasskeyRequest {
    /// The challenge, base64url.
    pub(crate) challenge: String,
    /// The relying party id.
    pub(crate) rp_id: String,
    /// Credential ids (base64url, space-separated): the ones allowed at sign-in, or the
    /// ones to exclude at registration.
    pub(crate) credentials: String,
}

/// One passkey on the account page.
#[derive(Debug)]
pub(crate) struct PasskeyItem {
    /// The credential id, base64url.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) added: String,
    pub(crate) last_used: Option<String>,
    pub(crate) synced: bool,
}

/// Adding a passkey: a name, then the browser's prompt.
#[derive(Template)]
#[template(path = "passkey_add.html")]
pub(crate) struct PasskeyAddPage {
    pub(crate) csrf_token: String,
    pub(crate) passkey: PasskeyRequest,
    /// The WebAuthn user handle, base64url.
    pub(crate) user_handle: String,
    pub(crate) username: String,
    pub(crate) error: Option<String>,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub(crate) struct ConsentPage {
    pub(crate) client_name: String,
    pub(crate) username: String,
    pub(crate) new_scopes: Vec<ScopeView>,
    pub(crate) approved: Vec<ScopeView>,
    pub(crate) csrf_token: String,
    /// The authorization request's parameters, carried through the form.
    pub(crate) fields: Vec<(String, String)>,
}

/// One grant on the account page.
#[derive(Debug)]
pub(crate) struct GrantItem {
    pub(crate) client_id: String,
    pub(crate) client_name: String,
    pub(crate) first_granted: String,
    pub(crate) last_used: Option<String>,
    pub(crate) offline_access: bool,
    pub(crate) scopes: Vec<ScopeView>,
}

/// The account page: who is signed in, what they allowed, and how to take it back.
#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    pub(crate) username: String,
    pub(crate) grants: Vec<GrantItem>,
    pub(crate) csrf_token: String,
    pub(crate) notice: Option<String>,
    pub(crate) password_error: Option<String>,
    pub(crate) mfa_enabled: bool,
    pub(crate) recovery_codes_left: u64,
    pub(crate) identities: Vec<IdentityItem>,
    pub(crate) link_providers: Vec<ProviderButton>,
    pub(crate) passkeys: Vec<PasskeyItem>,
}

/// A "Continue with" or "Link" button for an upstream provider.
pub(crate) struct ProviderButton {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Where the login page's button goes (with the return address).
    pub(crate) href: String,
}

/// An upstream identity on the account page.
pub(crate) struct IdentityItem {
    pub(crate) provider_name: String,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) linked: String,
}

/// The second step of a sign-in: the code.
#[derive(Template)]
#[template(path = "login_mfa.html")]
pub(crate) struct LoginMfaPage {
    pub(crate) csrf_token: String,
    pub(crate) return_to: String,
    pub(crate) error: Option<String>,
    /// Whether an authenticator app (and so recovery codes) is enrolled.
    pub(crate) totp: bool,
    /// The passkey second step, if the account has passkeys.
    pub(crate) passkey: Option<PasskeyRequest>,
}

/// Enrolling an authenticator app: the QR code, the key as text, and the code to confirm.
#[derive(Template)]
#[template(path = "mfa_setup.html")]
pub(crate) struct MfaSetupPage {
    pub(crate) qr_svg: String,
    pub(crate) secret: String,
    pub(crate) csrf_token: String,
    pub(crate) error: Option<&'static str>,
}

/// The recovery codes, shown once.
#[derive(Template)]
#[template(path = "mfa_codes.html")]
pub(crate) struct MfaCodesPage {
    pub(crate) codes: Vec<String>,
}

/// `text` as an SVG QR code (medium error correction), drawn from its modules alone.
pub(crate) fn qr_svg(text: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(code) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = code.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let total = size + 2 * border;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {total}" width="220" height="220" role="img" aria-label="QR code for your authenticator app" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    )
}

/// "Revoke access for this application?"
#[derive(Template)]
#[template(path = "revoke_confirm.html")]
pub(crate) struct RevokeConfirmPage {
    pub(crate) client_id: String,
    pub(crate) client_name: String,
    pub(crate) csrf_token: String,
}

/// The device verification page: enter the code.
#[derive(Template)]
#[template(path = "device_entry.html")]
pub(crate) struct DeviceEntryPage {
    pub(crate) csrf_token: String,
    pub(crate) user_code: String,
    pub(crate) error: Option<&'static str>,
}

/// The device confirmation page (RFC 8628 §5.4: phishing defence).
#[derive(Template)]
#[template(path = "device_confirm.html")]
pub(crate) struct DeviceConfirmPage {
    pub(crate) client_name: String,
    pub(crate) username: String,
    pub(crate) user_code: String,
    pub(crate) scopes: Vec<ScopeView>,
    pub(crate) csrf_token: String,
}

/// A page with a title and one message (errors, signed out, home).
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) title: &'static str,
    pub(crate) message: String,
    pub(crate) is_error: bool,
}

impl MessagePage {
    /// An error page.
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Self {
            title: "Something is not right",
            message: message.into(),
            is_error: true,
        }
    }
}

/// The CSP of pages: our own stylesheet and passkey script, nothing else, never framed.
/// (No `form-action`: browsers apply it to the redirect after a form, and the consent form
/// redirects to the client.)
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// Renders a page with its status, no-store, the page CSP, and any cookies to set.
pub(crate) fn render(page: &impl Template, status: StatusCode, cookies: &[String]) -> Response {
    let Ok(html) = page.render() else {
        tracing::error!("template failed to render");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// A 400 error page for a flow that cannot continue.
pub(crate) fn error_page(status: StatusCode, message: impl Into<String>) -> Response {
    render(&MessagePage::error(message), status, &[])
}
