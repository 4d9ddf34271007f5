//! The protocol steps: the one-time browser bootstrap (login and consent), the
//! authorization-code round trip, and one refresh.

use anyhow::{Context as _, bail, ensure};
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde::Deserialize;
use url::form_urlencoded;

use crate::browser::{Jar, inputs, set_field};
use crate::http::{Connection, Failure, Reply, Target};

/// The session cookie's name.
const SESSION_COOKIE: &str = "latchkey_session";

/// The registered client and what it asks for; the same for every worker.
#[derive(Debug)]
pub(crate) struct Flow {
    client_id: String,
    redirect_uri: String,
    scope: String,
    /// `Authorization: Basic ...` for the token endpoint.
    basic: HeaderValue,
}

/// A PKCE pair (RFC 7636): the verifier and its S256 challenge.
#[derive(Debug)]
pub(crate) struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    /// A fixed pair per worker: 46 characters of the unreserved set, so a valid verifier.
    pub(crate) fn for_worker(worker: usize) -> Self {
        let verifier = format!("latchkey-bench-flows-pkce-verifier-worker-{worker:04}");
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// The part of a token response the flows use.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
}

impl Flow {
    pub(crate) fn new(
        client_id: String,
        client_secret: &str,
        redirect_uri: String,
        scope: String,
    ) -> anyhow::Result<Self> {
        // RFC 6749 §2.3.1: each part form-urlencoded, then base64.
        let encode = |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", encode(&client_id), encode(client_secret));
        let basic = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))?;
        Ok(Self {
            client_id,
            redirect_uri,
            scope,
            basic,
        })
    }

    /// The authorization request, as a path with its query.
    fn authorize_path(&self, pkce: &Pkce, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("/oauth2/authorize?{query}")
    }

    /// The code from a redirect to the client, which must carry our `state`.
    fn code_from_redirect(&self, location: &str, state: &str) -> Result<String, Failure> {
        let query = location
            .strip_prefix(self.redirect_uri.as_str())
            .and_then(|rest| rest.strip_prefix('?'))
            .ok_or_else(|| Failure::Protocol(format!("authorize: redirected elsewhere: {location}")))?;
        let (mut code, mut returned_state, mut error) = (None, None, None);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "code" => code = Some(value.into_owned()),
                "state" => returned_state = Some(value.into_owned()),
                "error" => error = Some(value.into_owned()),
                _ => {}
            }
        }
        if let Some(error) = error {
            return Err(Failure::Protocol(format!(
                "authorize: the client got error={error}"
            )));
        }
        if returned_state.as_deref() != Some(state) {
            return Err(Failure::Protocol(format!(
                "authorize: state mismatch in {location}"
            )));
        }
        code.ok_or_else(|| Failure::Protocol(format!("authorize: no code in {location}")))
    }

    /// Reads a 200 token response; a refresh token is required.
    fn tokens(step: &str, reply: &Reply) -> Result<String, Failure> {
        if reply.status != StatusCode::OK {
            return Err(Failure::status(step, reply));
        }
        let tokens: TokenResponse = serde_json::from_slice(&reply.body)
            .map_err(|e| Failure::Protocol(format!("{step}: unreadable token response: {e}")))?;
        if tokens.access_token.is_empty() {
            return Err(Failure::Protocol(format!("{step}: empty access_token")));
        }
        tokens
            .refresh_token
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Failure::Protocol(format!("{step}: no refresh_token")))
    }

    /// One authorization-code round trip on an existing session with remembered consent:
    /// `GET /oauth2/authorize` (303 to the client with a code), then the code exchange
    /// with PKCE and Basic auth. Returns the refresh token.
    pub(crate) async fn code_round_trip(
        &self,
        conn: &mut Connection,
        session: &HeaderValue,
        pkce: &Pkce,
        state: &str,
    ) -> Result<String, Failure> {
        let reply = conn.get(&self.authorize_path(pkce, state), Some(session)).await?;
        if reply.status != StatusCode::SEE_OTHER {
            return Err(Failure::status("authorize", &reply));
        }
        let code = self.code_from_redirect(reply.location("authorize")?, state)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_verifier", &pkce.verifier)
            .finish();
        let reply = conn
            .post_form("/oauth2/token", form, None, Some(&self.basic))
            .await?;
        Self::tokens("token (authorization_code)", &reply)
    }

    /// One refresh: returns the rotated refresh token, which must be new.
    pub(crate) async fn refresh(
        &self,
        conn: &mut Connection,
        refresh_token: &str,
    ) -> Result<String, Failure> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .finish();
        let reply = conn
            .post_form("/oauth2/token", form, None, Some(&self.basic))
            .await?;
        let next = Self::tokens("token (refresh_token)", &reply)?;
        if next == refresh_token {
            return Err(Failure::Protocol(
                "token (refresh_token): the refresh token was not rotated".to_owned(),
            ));
        }
        Ok(next)
    }

    /// Logs in and allows the consent once, as a browser does, and returns the `Cookie`
    /// header that from then on gets codes without any page:
    /// authorize (303 to /login) → login page → POST /login (303 back, session cookie) →
    /// authorize (consent page) → POST the consent with `decision=allow` (303 with a code).
    pub(crate) async fn bootstrap(
        &self,
        target: Target,
        username: &str,
        password: &str,
    ) -> anyhow::Result<HeaderValue> {
        let mut conn = Connection::new(target);
        let mut jar = Jar::default();
        let pkce = Pkce::for_worker(9999);
        let state = "bootstrap";

        let first = browse(&mut conn, &mut jar, &self.authorize_path(&pkce, state), None).await?;
        ensure!(
            first.status == StatusCode::SEE_OTHER,
            "authorize without a session: expected 303 to the login page, got {}",
            first.status
        );
        let login_path = first.location("authorize")?.to_owned();
        ensure!(
            login_path.starts_with("/login?"),
            "authorize without a session redirected to {login_path}, not to the login page"
        );

        let login_page = browse(&mut conn, &mut jar, &login_path, None).await?;
        ensure!(
            login_page.status == StatusCode::OK,
            "login page: HTTP {}",
            login_page.status
        );
        let mut form = inputs(&String::from_utf8_lossy(&login_page.body));
        ensure!(
            form.iter().any(|(name, _)| name == "csrf_token")
                && form.iter().any(|(name, _)| name == "return_to"),
            "the login page has no csrf_token or return_to field"
        );
        set_field(&mut form, "username", username);
        set_field(&mut form, "password", password);
        let logged_in = browse(&mut conn, &mut jar, "/login", Some(&form)).await?;
        ensure!(
            logged_in.status == StatusCode::SEE_OTHER && jar.get(SESSION_COOKIE).is_some(),
            "login as {username} failed: HTTP {} (wrong password?)",
            logged_in.status
        );
        let back = logged_in.location("login")?.to_owned();
        ensure!(back.starts_with("/oauth2/authorize?"), "login returned to {back}");

        let consent = browse(&mut conn, &mut jar, &back, None).await?;
        let done = match consent.status {
            StatusCode::OK => {
                let mut form = inputs(&String::from_utf8_lossy(&consent.body));
                ensure!(
                    form.iter().any(|(name, _)| name == "csrf_token"),
                    "the consent page has no csrf_token field"
                );
                set_field(&mut form, "decision", "allow");
                browse(&mut conn, &mut jar, "/oauth2/authorize", Some(&form)).await?
            }
            // Consent remembered from an earlier run on this database.
            StatusCode::SEE_OTHER => consent,
            other => bail!("authorize after login: HTTP {other}"),
        };
        ensure!(
            done.status == StatusCode::SEE_OTHER,
            "consent: HTTP {}",
            done.status
        );
        self.code_from_redirect(done.location("consent")?, state)?;

        let session = jar
            .get(SESSION_COOKIE)
            .context("the session cookie disappeared")?;
        Ok(HeaderValue::from_str(&format!("{SESSION_COOKIE}={session}"))?)
    }
}

/// A browser request: sends the jar's cookies, keeps the ones the response sets.
async fn browse(
    conn: &mut Connection,
    jar: &mut Jar,
    path: &str,
    form: Option<&[(String, String)]>,
) -> anyhow::Result<Reply> {
    let cookie = jar.header()?;
    let reply = match form {
        None => conn.get(path, cookie.as_ref()).await,
        Some(fields) => {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish();
            conn.post_form(path, body, cookie.as_ref(), None).await
        }
    }
    .with_context(|| format!("bootstrap request to {path}"))?;
    jar.absorb(&reply);
    Ok(reply)
}
