//! A bare HTTP/1.1 client connection: one per worker, kept alive, reopened after a
//! transport error. Redirects are never followed: every response comes back as it is.

use std::fmt;
use std::net::SocketAddr;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why one operation failed; each kind is counted separately.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connecting, writing or reading broke off (a socket error).
    Transport(String),
    /// A status the flow does not expect at this step.
    Status(String),
    /// The expected status with content the flow cannot use (no code, wrong state, no token).
    Protocol(String),
}

impl Failure {
    /// An unexpected status at `step`, with the start of the body for the log.
    pub(crate) fn status(step: &str, reply: &Reply) -> Self {
        let body = String::from_utf8_lossy(&reply.body);
        let snippet: String = body.chars().take(300).collect();
        Self::Status(format!("{step}: HTTP {}: {snippet}", reply.status.as_u16()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(message) => write!(f, "transport error: {message}"),
            Self::Status(message) | Self::Protocol(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Failure {}

/// The server: where to connect and what to send as `Host`.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) host: HeaderValue,
}

/// A response with its body read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The `Location` header, which a redirect must have.
    pub(crate) fn location(&self, step: &str) -> Result<&str, Failure> {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| Failure::Protocol(format!("{step}: a redirect without a readable Location")))
    }
}

/// One keep-alive connection to the target.
pub(crate) struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// HTTP requests sent so far, for the request rate.
    pub(crate) sent: u64,
}

impl Connection {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            sender: None,
            sent: 0,
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .map_err(|e| Failure::Transport(format!("connect to {}: {e}", self.target.addr)))?;
        stream
            .set_nodelay(true)
            .map_err(|e| Failure::Transport(format!("TCP_NODELAY: {e}")))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Transport(format!("HTTP handshake: {e}")))?;
        // Drives the connection; it ends when the sender is dropped or the server closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole response. After a transport error the
    /// connection is dropped and the next request opens a new one.
    pub(crate) async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, Failure> {
        let mut sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        sender
            .ready()
            .await
            .map_err(|e| Failure::Transport(format!("connection not ready: {e}")))?;
        self.sent += 1;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::Transport(format!("request: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Failure::Transport(format!("response body: {e}")))?
            .to_bytes();
        self.sender = Some(sender);
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET path`, with a `Cookie` header if given.
    pub(crate) async fn get(&mut self, path: &str, cookie: Option<&HeaderValue>) -> Result<Reply, Failure> {
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.target.host.clone());
        if let Some(cookie) = cookie {
            builder = builder.header(COOKIE, cookie.clone());
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Failure::Protocol(format!("cannot build GET {path}: {e}")))?;
        self.send(request).await
    }

    /// `POST path` with a form body, and `Cookie` / `Authorization` headers if given.
    pub(crate) async fn post_form(
        &mut self,
        path: &str,
        form: String,
        cookie: Option<&HeaderValue>,
        authorization: Option<&HeaderValue>,
    ) -> Result<Reply, Failure> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.target.host.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        if let Some(cookie) = cookie {
            builder = builder.header(COOKIE, cookie.clone());
        }
        if let Some(authorization) = authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        let request = builder
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| Failure::Protocol(format!("cannot build POST {path}: {e}")))?;
        self.send(request).await
    }
}
