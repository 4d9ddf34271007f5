//! Registered clients (RFC 6749 §2, RFC 7591 metadata names): what a client may ask for and
//! how it authenticates.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::clock::Timestamp;
use crate::id::ClientId;
use crate::keys::Algorithm;
use crate::scope::ScopeSet;
use crate::secret::SecretHash;

/// A grant type, by its RFC name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §4.2 (legacy; only for clients registered for it).
    Implicit,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 8628.
    DeviceCode,
}

impl GrantType {
    /// Every grant type, in a stable order.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::Implicit,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::DeviceCode,
    ];

    /// The RFC name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Implicit => "implicit",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown grant type {s:?}"))
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2). Exactly one per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the url-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: no secret.
    None,
}

impl AuthMethod {
    /// The RFC 7591 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown auth method {s:?} (use client_secret_basic, client_secret_post or none)")
            })
    }
}

/// A registered redirect URI, validated at registration and compared as an exact string
/// (RFC 9700 §4.1.1), except for the loopback port rule of RFC 8252 §7.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates a redirect URI for registration.
    ///
    /// Allowed: `https` URIs; `http` only on a loopback IP literal (RFC 8252 §7.3); and
    /// private-use schemes containing a dot for native apps (RFC 8252 §7.1). Refused:
    /// relative URIs, fragments (RFC 6749 §3.1.2), wildcards, user info, `localhost`
    /// (RFC 8252 §8.3) and every other scheme (`javascript:`, `data:`, `file:`, ...).
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = |why: &str| Err(format!("redirect URI {text:?} {why}"));
        if text.len() > 2000 {
            return refuse("is longer than 2000 characters");
        }
        if text.contains('*') {
            return refuse("contains a wildcard; register each URI exactly");
        }
        if text.contains('#') {
            return refuse("has a fragment, which RFC 6749 section 3.1.2 forbids");
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("contains whitespace or control characters");
        }
        let Ok(url) = url::Url::parse(text) else {
            return refuse("is not an absolute URI");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("contains user information");
        }
        match url.scheme() {
            "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return refuse("has no host");
                }
            }
            "http" => match url.host() {
                Some(url::Host::Ipv4(ip)) if IpAddr::V4(ip).is_loopback() => {}
                Some(url::Host::Ipv6(ip)) if IpAddr::V6(ip).is_loopback() => {}
                Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                    return refuse(
                        "uses localhost; use the loopback literal 127.0.0.1 or [::1] (RFC 8252 section 8.3)",
                    );
                }
                _ => return refuse("uses http, which is allowed only on a loopback address"),
            },
            scheme if scheme.contains('.') => {}
            _ => {
                return refuse(
                    "must use https, http on a loopback address, or a private-use scheme containing a dot (com.example.app:/callback)",
                );
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// Wraps a URI read back from the database, where it was stored after validation.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a requested redirect URI matches this registration: the exact string, except
    /// that a loopback registration accepts any port (RFC 8252 §7.3), since a native app
    /// gets an ephemeral port from its OS.
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        ["http://127.0.0.1", "http://[::1]"].iter().any(|prefix| {
            match (without_port(&self.0, prefix), without_port(requested, prefix)) {
                (Some(registered), Some(requested)) => registered == requested,
                _ => false,
            }
        })
    }
}

/// `http://127.0.0.1:8080/cb` → `/cb` for the prefix `http://127.0.0.1`; `None` if the URI
/// does not start with the prefix followed by a port or path.
fn without_port<'a>(uri: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = uri.strip_prefix(prefix)?;
    let rest = match rest.strip_prefix(':') {
        Some(port_and_path) => {
            let digits = port_and_path.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            port_and_path.get(digits..)?
        }
        None => rest,
    };
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: ClientId,
    /// `client_name`, shown on consent pages.
    pub name: String,
    /// The one way this client authenticates.
    pub auth_method: AuthMethod,
    /// What it may ask for.
    pub grant_types: Vec<GrantType>,
    /// Where authorization responses may go.
    pub redirect_uris: Vec<RedirectUri>,
    /// The scopes it may be granted; also its default when it asks for none.
    pub scopes: ScopeSet,
    /// The keyed hash of its secret; `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// How its ID tokens are signed (`id_token_signed_response_alg`): RS256 by default.
    pub id_token_alg: Algorithm,
}

impl Client {
    /// Whether the client is public (has no secret).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// Whether the client is registered for `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_http_and_private_use_schemes() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=1",
            "http://127.0.0.1:8765/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_dangerous_and_vague_redirect_uris() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "/relative/callback",
            "callback",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "https://app.example.com/*",
            "http://app.example.com/cb",
            "http://localhost:8080/cb",
            "http://10.0.0.1/cb",
            "https://user:pw@app.example.com/cb",
            "https://app.example.com/c b",
            "myapp:/cb",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris_match_exactly_except_the_loopback_port() {
        let web = RedirectUri::parse("https://app.example.com/cb").unwrap_or_else(|e| panic!("{e}"));
        assert!(web.matches("https://app.example.com/cb"));
        for trick in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb/../cb",
            "https://app.example.com/cb?x=1",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com.evil.example/cb",
            "https://app.example.com/cbx",
            "https://app.example.com/cb#f",
        ] {
            assert!(!web.matches(trick), "{trick}");
        }
        let native = RedirectUri::parse("http://127.0.0.1:8080/callback").unwrap_or_else(|e| panic!("{e}"));
        assert!(native.matches("http://127.0.0.1:51000/callback"));
        assert!(native.matches("http://127.0.0.1/callback"));
        assert!(!native.matches("http://127.0.0.1:51000/callback/x"));
        assert!(!native.matches("http://127.0.0.1:51000@evil.example/callback"));
        assert!(!native.matches("http://127.0.0.10:8080/callback"));
        assert!(!native.matches("http://[::1]:8080/callback"));
        let v6 = RedirectUri::parse("http://[::1]/cb").unwrap_or_else(|e| panic!("{e}"));
        assert!(v6.matches("http://[::1]:9999/cb"));
    }

    #[test]
    fn grant_types_round_trip_their_rfc_names() {
        for grant in GrantType::ALL {
            assert_eq!(grant.as_str().parse::<GrantType>(), Ok(grant));
        }
        assert!("password".parse::<GrantType>().is_err());
    }
}
