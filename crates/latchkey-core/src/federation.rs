//! Signing in through an upstream OpenID Connect provider (another issuer: a company's
//! identity provider, Google, another Latchkey). Latchkey is then a careful client of the
//! upstream: authorization code with PKCE (S256), `state` and `nonce` checked, the ID
//! token's signature checked against the upstream's JWKS and its claims here (OpenID
//! Connect Core §3.1.3.7). An upstream identity is its issuer and subject, never its
//! e-mail: the first sign-in creates a local user, linking to an existing account needs
//! that account signed in, and an e-mail that matches an existing account is refused
//! rather than taken over.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::clock::Timestamp;
use crate::context::Context;
use crate::error::{OAuthError, StoreError};
use crate::id::UserId;
use crate::secret::{OpaqueToken, b64, b64_decode, constant_time_eq};
use crate::user::{NO_PASSWORD, User};

/// How long a sign-in at the upstream may take.
pub const FLOW_SECS: i64 = 600;
/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;
const FLOW_AAD: &[u8] = b"latchkey upstream flow v1";

/// A configured upstream provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamProvider {
    /// Its id in our URLs (`/login/upstream/{id}`).
    pub id: String,
    /// The name on the "Continue with" button.
    pub name: String,
    /// Its issuer identifier (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there, sealed with the master key.
    pub sealed_secret: Vec<u8>,
    /// The scopes we ask for, space-separated (`openid` among them for OpenID Connect).
    pub scopes: String,
    /// For a plain OAuth 2.0 server (no ID token): its endpoints and where its user-info
    /// answer keeps the user's id, e-mail and names. `None` for OpenID Connect.
    pub oauth2: Option<PlainOAuth>,
    /// When it was added.
    pub created_at: Timestamp,
}

/// A plain OAuth 2.0 upstream (such as GitHub): no discovery and no ID token; who signed
/// in is read from its user-info endpoint with the access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainOAuth {
    /// Its authorization endpoint.
    pub authorize_url: String,
    /// Its token endpoint.
    pub token_url: String,
    /// Its user-info endpoint (a JSON object about the user).
    pub userinfo_url: String,
    /// The member holding the user's stable id (a string or a number), e.g. `id`.
    #[serde(default = "default_subject_field")]
    pub subject_field: String,
    /// The member holding the e-mail address.
    #[serde(default = "default_email_field")]
    pub email_field: String,
    /// The member holding the username.
    #[serde(default = "default_username_field")]
    pub username_field: String,
    /// The member holding the display name.
    #[serde(default = "default_name_field")]
    pub name_field: String,
}

fn default_subject_field() -> String {
    "sub".into()
}
fn default_email_field() -> String {
    "email".into()
}
fn default_username_field() -> String {
    "preferred_username".into()
}
fn default_name_field() -> String {
    "name".into()
}

impl PlainOAuth {
    /// GitHub's endpoints and members.
    pub fn github() -> Self {
        Self {
            authorize_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            userinfo_url: "https://api.github.com/user".into(),
            subject_field: "id".into(),
            email_field: "email".into(),
            username_field: "login".into(),
            name_field: "name".into(),
        }
    }

    /// Who the user-info answer says signed in.
    pub fn identity(
        &self,
        info: &Map<String, Value>,
        provider_name: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        let subject = match info.get(&self.subject_field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if subject.is_empty() || subject.len() > 255 {
            return Err(FederationError::Invalid(
                provider_name.to_owned(),
                "no user id in its user-info answer",
            ));
        }
        let short = |name: &str, max: usize| {
            info.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && v.len() <= max)
                .map(str::to_owned)
        };
        Ok(UpstreamIdentity {
            subject,
            email: short(&self.email_field, 254),
            preferred_username: short(&self.username_field, 64),
            name: short(&self.name_field, 200),
        })
    }

    /// Checks the endpoints are http(s) URLs and the members named.
    pub fn validate(&self) -> Result<(), &'static str> {
        let url_ok = |u: &str| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
        if !(url_ok(&self.authorize_url) && url_ok(&self.token_url) && url_ok(&self.userinfo_url)) {
            return Err("the OAuth 2.0 endpoints must be http(s) URLs");
        }
        if [
            &self.subject_field,
            &self.email_field,
            &self.username_field,
            &self.name_field,
        ]
        .iter()
        .any(|f| f.is_empty() || f.len() > 64)
        {
            return Err("the user-info member names must be 1 to 64 characters");
        }
        Ok(())
    }
}

/// An upstream identity linked to a local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider it came through.
    pub provider_id: String,
    /// The upstream issuer.
    pub issuer: String,
    /// The upstream `sub`.
    pub subject: String,
    /// The local user.
    pub user_id: UserId,
    /// When it was linked.
    pub created_at: Timestamp,
}

fn secret_aad(provider_id: &str) -> Vec<u8> {
    format!("latchkey upstream secret v1|{provider_id}").into_bytes()
}

/// Checks a provider's settings: an id for URLs (1 to 32 of `a-z`, `0-9`, `-`), a name for
/// its button, an http(s) issuer without a trailing slash (exactly as the provider names
/// itself) and a client id.
pub fn validate_provider(id: &str, name: &str, issuer: &str, client_id: &str) -> Result<(), &'static str> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("a provider id is 1 to 32 of a-z, 0-9 and '-'");
    }
    if name.trim().is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err("the name must be 1 to 64 characters");
    }
    let scheme_ok = url::Url::parse(issuer).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    if !scheme_ok || issuer.ends_with('/') {
        return Err(
            "the issuer must be an http(s) URL without a trailing slash, exactly as the provider names itself",
        );
    }
    if client_id.is_empty() || client_id.len() > 255 || client_id.chars().any(char::is_control) {
        return Err("the client id must be 1 to 255 characters");
    }
    Ok(())
}

/// The scopes to ask for: the given ones (default `openid email profile`), `openid` first.
pub fn provider_scopes(given: &[String]) -> String {
    let mut scopes: Vec<String> = if given.is_empty() {
        vec!["openid".into(), "email".into(), "profile".into()]
    } else {
        given.to_vec()
    };
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    scopes.join(" ")
}

/// The name and issuer of a well-known provider: `google`, `gitlab`, `microsoft` with a
/// tenant (the multi-tenant endpoint's ID tokens name each user's own tenant as issuer,
/// which a strict issuer check cannot accept), or `github` (plain OAuth 2.0: see
/// [`preset_oauth2`]).
pub fn preset(name: &str, tenant: Option<&str>) -> Result<(&'static str, String), &'static str> {
    match name {
        "google" => Ok(("Google", "https://accounts.google.com".to_owned())),
        "gitlab" => Ok(("GitLab", "https://gitlab.com".to_owned())),
        "microsoft" => match tenant.filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }) {
            Some(tenant) => Ok((
                "Microsoft",
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            )),
            None => {
                Err("the microsoft preset needs --tenant (tenant in a file) with your directory (tenant) id")
            }
        },
        "github" => Ok(("GitHub", "https://github.com".to_owned())),
        _ => Err("unknown preset: use google, gitlab, microsoft or github"),
    }
}

/// The plain OAuth 2.0 settings and scopes of a preset that needs them (`github`).
pub fn preset_oauth2(name: &str) -> Option<(PlainOAuth, &'static str)> {
    (name == "github").then(|| (PlainOAuth::github(), "read:user user:email"))
}

/// Seals a provider's client secret for storage (`sealer` is the context's, or one made
/// from the master key).
pub fn seal_client_secret(sealer: &crate::mfa::SecretSealer, provider_id: &str, secret: &str) -> Vec<u8> {
    sealer.seal(&secret_aad(provider_id), secret.as_bytes())
}

impl UpstreamProvider {
    /// Our client secret at the provider.
    pub fn client_secret(&self, context: &Context) -> Result<String, OAuthError> {
        let plain = context
            .mfa_sealer
            .open(&secret_aad(&self.id), &self.sealed_secret)
            .map_err(OAuthError::internal)?;
        String::from_utf8(plain).map_err(OAuthError::internal)
    }
}

/// A sign-in in progress at an upstream, carried in a sealed cookie: nothing in it can be
/// read or changed by the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The provider.
    pub provider: String,
    /// The `state` sent upstream.
    pub state: String,
    /// The `nonce` sent upstream.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// Where to go after signing in.
    pub return_to: String,
    /// The signed-in user to link the identity to, when started from the account page.
    pub link_to: Option<String>,
    /// Deadline, seconds since the epoch.
    pub expires: i64,
}

impl Flow {
    /// A new flow with fresh `state`, `nonce` and verifier.
    pub fn new(provider: &str, return_to: &str, link_to: Option<&UserId>, now: Timestamp) -> Self {
        Self {
            provider: provider.to_owned(),
            state: OpaqueToken::generate().expose().to_owned(),
            nonce: OpaqueToken::generate().expose().to_owned(),
            verifier: OpaqueToken::generate().expose().to_owned(),
            return_to: return_to.to_owned(),
            link_to: link_to.map(|u| u.as_str().to_owned()),
            expires: now.as_secs() + FLOW_SECS,
        }
    }

    /// The S256 code challenge of the verifier (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.verifier.as_bytes()).as_ref())
    }

    /// The cookie value.
    pub fn seal(&self, context: &Context) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        b64(&context.mfa_sealer.seal(FLOW_AAD, &json))
    }

    /// The flow a cookie carries, if ours and not past its deadline.
    pub fn open(context: &Context, value: &str, now: Timestamp) -> Option<Self> {
        if value.len() > 4096 {
            return None;
        }
        let plain = context.mfa_sealer.open(FLOW_AAD, &b64_decode(value)?).ok()?;
        let flow: Self = serde_json::from_slice(&plain).ok()?;
        (now.as_secs() < flow.expires).then_some(flow)
    }

    /// Whether the `state` that came back is ours (compared in constant time).
    pub fn state_matches(&self, returned: &str) -> bool {
        constant_time_eq(self.state.as_bytes(), returned.as_bytes())
    }

    /// The upstream authorization URL for this flow.
    pub fn authorization_url(
        &self,
        endpoint: &str,
        provider: &UpstreamProvider,
        redirect_uri: &str,
    ) -> Option<String> {
        let mut url = url::Url::parse(endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &provider.scopes)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.challenge())
            .append_pair("code_challenge_method", "S256");
        Some(url.into())
    }
}

/// Who the upstream says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// `sub`.
    pub subject: String,
    /// `email`, if given.
    pub email: Option<String>,
    /// `preferred_username`, if given.
    pub preferred_username: Option<String>,
    /// `name`, if given.
    pub name: Option<String>,
}

impl UpstreamIdentity {
    /// Fills what the ID token left out from the upstream's user-info answer, which must
    /// name the same subject (OpenID Connect Core §5.3.2); another subject is ignored.
    pub fn fill_from_userinfo(&mut self, info: &Map<String, Value>) {
        if info.get("sub").and_then(Value::as_str) != Some(self.subject.as_str()) {
            return;
        }
        let short = |name: &str, max: usize| {
            info.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && v.len() <= max)
                .map(str::to_owned)
        };
        self.email = self.email.take().or_else(|| short("email", 254));
        self.preferred_username = self
            .preferred_username
            .take()
            .or_else(|| short("preferred_username", 64));
        self.name = self.name.take().or_else(|| short("name", 200));
    }
}

/// Why an upstream sign-in was refused; each says what to tell the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// The ID token or the answer is not acceptable.
    #[error("the sign-in at {0} could not be verified ({1})")]
    Invalid(String, &'static str),
    /// Its e-mail belongs to an existing account that this identity is not linked to.
    #[error(
        "an account with this e-mail address already exists: sign in to it with its password, then link {0} from your account page"
    )]
    EmailTaken(String),
    /// The identity is linked to another account.
    #[error("this {0} identity is already linked to another account")]
    LinkedElsewhere(String),
}

/// Checks an upstream ID token's claims (OpenID Connect Core §3.1.3.7): issuer, audience
/// (and `azp` with several audiences), expiry, issue time and nonce.
pub fn check_id_token(
    claims: &Map<String, Value>,
    provider: &UpstreamProvider,
    nonce: &str,
    now: Timestamp,
) -> Result<UpstreamIdentity, FederationError> {
    let bad = |why| FederationError::Invalid(provider.name.clone(), why);
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(provider.issuer.as_str()) {
        return Err(bad("wrong issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&provider.client_id.as_str()) {
        return Err(bad("not issued to us"));
    }
    if audiences.len() > 1 && text("azp") != Some(provider.client_id.as_str()) {
        return Err(bad("not issued to us"));
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    match number("exp") {
        Some(exp) if now.as_secs() < exp + LEEWAY_SECS => {}
        _ => return Err(bad("expired")),
    }
    if number("iat").is_none_or(|iat| iat > now.as_secs() + LEEWAY_SECS) {
        return Err(bad("issued in the future"));
    }
    if !text("nonce").is_some_and(|n| constant_time_eq(n.as_bytes(), nonce.as_bytes())) {
        return Err(bad("wrong nonce"));
    }
    let subject = text("sub")
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| bad("no subject"))?;
    let short = |name: &str, max: usize| {
        text(name)
            .filter(|v| !v.is_empty() && v.len() <= max)
            .map(str::to_owned)
    };
    Ok(UpstreamIdentity {
        subject: subject.to_owned(),
        email: short("email", 254),
        preferred_username: short("preferred_username", 64),
        name: short("name", 200),
    })
}

/// The local user an upstream sign-in is for: the linked one; or, from the account page,
/// the signed-in user it gets linked to; or a new user, unless the e-mail belongs to an
/// existing account.
pub async fn resolve(
    context: &Context,
    provider: &UpstreamProvider,
    identity: &UpstreamIdentity,
    link_to: Option<&UserId>,
    now: Timestamp,
) -> Result<Result<UserId, FederationError>, OAuthError> {
    let store = &context.store;
    if let Some(user) = store.find_identity(&provider.issuer, &identity.subject).await? {
        return Ok(match link_to {
            Some(other) if *other != user => Err(FederationError::LinkedElsewhere(provider.name.clone())),
            _ => Ok(user),
        });
    }
    let link = |user: UserId| LinkedIdentity {
        provider_id: provider.id.clone(),
        issuer: provider.issuer.clone(),
        subject: identity.subject.clone(),
        user_id: user,
        created_at: now,
    };
    if let Some(user) = link_to {
        store.link_identity(&link(user.clone())).await?;
        audit_link(context, user, provider, now).await;
        return Ok(Ok(user.clone()));
    }
    if let Some(email) = &identity.email {
        if store.email_in_use(email).await? {
            return Ok(Err(FederationError::EmailTaken(provider.name.clone())));
        }
    }
    let user = create_user(context, identity, now).await?;
    store.link_identity(&link(user.id.clone())).await?;
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::UserCreated, now, &Actor::System)
                .subject(&user.id)
                .with("upstream", provider.id.clone()),
        )
        .await;
    audit_link(context, &user.id, provider, now).await;
    Ok(Ok(user.id))
}

async fn audit_link(context: &Context, user: &UserId, provider: &UpstreamProvider, now: Timestamp) {
    context
        .audit
        .record(
            AuditEvent::new(AuditKind::IdentityLinked, now, &Actor::User(user.clone()))
                .subject(user)
                .with("upstream", provider.id.clone()),
        )
        .await;
}

/// A new passwordless user named after the upstream's username or e-mail, made unique.
async fn create_user(
    context: &Context,
    identity: &UpstreamIdentity,
    now: Timestamp,
) -> Result<User, OAuthError> {
    let wanted: String = identity
        .preferred_username
        .as_deref()
        .or_else(|| identity.email.as_deref().and_then(|e| e.split('@').next()))
        .unwrap_or("user")
        .chars()
        .filter(|c| c.is_alphanumeric() || ".-_".contains(*c))
        .take(48)
        .collect();
    let base = if wanted.is_empty() {
        "user".to_owned()
    } else {
        wanted
    };
    let email = identity
        .email
        .clone()
        .filter(|e| crate::user::validate_profile(Some(e), None).is_ok());
    let name = identity
        .name
        .clone()
        .filter(|n| crate::user::validate_profile(None, Some(n)).is_ok());
    for attempt in 0..20u32 {
        let username = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{}", attempt + 1)
        };
        let user = User {
            id: UserId::generate(),
            username,
            email: email.clone(),
            name: name.clone(),
            created_at: now,
        };
        match context.store.insert_user(&user, NO_PASSWORD).await {
            Ok(()) => return Ok(user),
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(OAuthError::internal(NoUsername))
}

/// Unlinks one of `user`'s upstream identities, unless it is their last way to sign in
/// (no password, passkey or other identity).
pub async fn unlink(
    context: &Context,
    user: &UserId,
    issuer: &str,
    subject: &str,
    now: Timestamp,
) -> Result<Result<(), &'static str>, OAuthError> {
    let ways = crate::login::ways_in(context, user).await?;
    if !ways
        .identities
        .iter()
        .any(|i| i.issuer == issuer && i.subject == subject)
    {
        return Ok(Err("That identity is not linked to your account."));
    }
    if ways.count() <= 1 {
        return Ok(Err(
            "That is the only way you can sign in: link another identity or add a passkey first.",
        ));
    }
    context.store.unlink_identity(user, issuer, subject).await?;
    context
        .audit
        .record(AuditEvent::new(AuditKind::IdentityUnlinked, now, &Actor::User(user.clone())).subject(user))
        .await;
    Ok(Ok(()))
}

#[derive(Debug, thiserror::Error)]
#[error("no free username for an upstream user")]
struct NoUsername;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn provider() -> UpstreamProvider {
        UpstreamProvider {
            id: "corp".into(),
            name: "Corp".into(),
            issuer: "https://up.example".into(),
            client_id: "c1".into(),
            sealed_secret: Vec::new(),
            scopes: "openid email".into(),
            oauth2: None,
            created_at: Timestamp::from_secs(0),
        }
    }

    fn claims(edit: impl FnOnce(&mut Value)) -> Map<String, Value> {
        let mut value = json!({
            "iss": "https://up.example", "sub": "u-1", "aud": "c1", "exp": 1_000_300,
            "iat": 1_000_000, "nonce": "n-1", "email": "u@example.com",
        });
        edit(&mut value);
        value.as_object().cloned().unwrap_or_default()
    }

    const NOW: Timestamp = Timestamp::from_secs(1_000_010);

    #[test]
    fn a_good_id_token_names_the_upstream_user() {
        let id = check_id_token(&claims(|_| {}), &provider(), "n-1", NOW).unwrap();
        assert_eq!(
            (id.subject.as_str(), id.email.as_deref()),
            ("u-1", Some("u@example.com"))
        );
        let many = claims(|c| {
            c["aud"] = json!(["c1", "other"]);
            c["azp"] = json!("c1");
        });
        assert!(check_id_token(&many, &provider(), "n-1", NOW).is_ok());
    }

    #[test]
    fn plain_oauth_identities_come_from_the_mapped_members() {
        let github = PlainOAuth::github();
        let info = json!({"id": 583231, "login": "octocat", "email": null, "name": "The Octocat"});
        let id = github.identity(info.as_object().unwrap(), "GitHub").unwrap();
        assert_eq!(id.subject, "583231");
        assert_eq!(
            (id.preferred_username.as_deref(), id.email, id.name.as_deref()),
            (Some("octocat"), None, Some("The Octocat"))
        );
        let nobody = json!({"login": "octocat"});
        assert!(github.identity(nobody.as_object().unwrap(), "GitHub").is_err());
        assert!(github.validate().is_ok());
        let bad = PlainOAuth {
            token_url: "javascript:alert(1)".into(),
            ..PlainOAuth::github()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn userinfo_fills_gaps_only_for_the_same_subject() {
        let mut id = check_id_token(
            &claims(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("email");
                }
            }),
            &provider(),
            "n-1",
            NOW,
        )
        .unwrap();
        let other = json!({"sub": "someone-else", "email": "x@example.com"});
        id.fill_from_userinfo(other.as_object().unwrap());
        assert_eq!(id.email, None);
        let same = json!({"sub": "u-1", "email": "u@example.com", "preferred_username": "u"});
        id.fill_from_userinfo(same.as_object().unwrap());
        assert_eq!(
            (id.email.as_deref(), id.preferred_username.as_deref()),
            (Some("u@example.com"), Some("u"))
        );
    }

    #[test]
    fn wrong_issuer_audience_nonce_or_lifetime_are_refused() {
        let refused = |c: Map<String, Value>, nonce: &str, now: Timestamp, why: &str| {
            assert_eq!(
                check_id_token(&c, &provider(), nonce, now),
                Err(FederationError::Invalid(
                    "Corp".into(),
                    match why {
                        "issuer" => "wrong issuer",
                        "aud" => "not issued to us",
                        "exp" => "expired",
                        "iat" => "issued in the future",
                        "nonce" => "wrong nonce",
                        _ => "no subject",
                    }
                )),
                "{why}"
            );
        };
        refused(
            claims(|c| c["iss"] = json!("https://evil.example")),
            "n-1",
            NOW,
            "issuer",
        );
        refused(claims(|c| c["aud"] = json!("someone-else")), "n-1", NOW, "aud");
        refused(claims(|c| c["aud"] = json!(["c1", "other"])), "n-1", NOW, "aud");
        refused(claims(|_| {}), "n-1", Timestamp::from_secs(1_000_361), "exp");
        refused(claims(|c| c["iat"] = json!(1_000_100)), "n-1", NOW, "iat");
        refused(claims(|_| {}), "n-2", NOW, "nonce");
        refused(
            claims(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("nonce");
                }
            }),
            "n-1",
            NOW,
            "nonce",
        );
        refused(claims(|c| c["sub"] = json!("")), "n-1", NOW, "sub");
    }
}
