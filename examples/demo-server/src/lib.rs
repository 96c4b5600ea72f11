//! A small OAuth 2.1 authorization server with a protected MCP endpoint, for demos and
//! tests of MCP clients on one machine.
//!
//! - RFC 8414 metadata at `/.well-known/oauth-authorization-server`;
//! - RFC 9728 protected resource metadata at `/.well-known/oauth-protected-resource/mcp`;
//! - RFC 7591 dynamic registration at `/register`, and client ID metadata documents
//!   (an `https` URL as the client ID);
//! - `/authorize` with PKCE S256 only, which consents at once: it redirects straight back
//!   with a code (and the RFC 9207 `iss`);
//! - `/token` with the `authorization_code` and `refresh_token` grants, rotating refresh
//!   tokens and access tokens of a configurable lifetime;
//! - `/mcp`, an MCP Streamable HTTP endpoint (`initialize`, `tools/list`, `tools/call`
//!   with the tools `whoami` and `add`) that answers `401` with
//!   `WWW-Authenticate: Bearer resource_metadata="…"` without a valid token.
//!
//! Its state (clients, codes, tokens) lives in any key-value store, hashed where it is a
//! secret, with the store's expiry doing the token lifetimes; give it a persistent
//! store and tokens survive a restart. It binds to loopback only.
//!
//! ```no_run
//! use std::time::Duration;
//! use mcp_demo_server::DemoServer;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let server = DemoServer::builder()
//!     .port(0) // any free port
//!     .access_token_lifetime(Duration::from_secs(60))
//!     .on_event(|event| eprintln!("server: {event}"))
//!     .start()
//!     .await?;
//! println!("MCP endpoint: {}", server.mcp_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod authorize;
mod clients;
mod clock;
mod mcp;
mod metadata;
mod secrets;
mod token;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use key_value::AsyncKeyValue;
use key_value::memory::MemoryStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The scope the MCP endpoint requires.
pub const MCP_SCOPE: &str = "mcp:tools";
/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// The default access token lifetime.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a refresh token lives.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long an authorization code lives.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// The collections the server keeps its state in (prefixed so that it can share a store).
pub mod collections {
    /// Registered clients, by client ID.
    pub const CLIENTS: &str = "demo-server-clients";
    /// Authorization codes, by SHA-256 of the code.
    pub const CODES: &str = "demo-server-codes";
    /// Access tokens, by SHA-256 of the token.
    pub const ACCESS_TOKENS: &str = "demo-server-access-tokens";
    /// Refresh tokens, by SHA-256 of the token.
    pub const REFRESH_TOKENS: &str = "demo-server-refresh-tokens";
    /// Refresh tokens already exchanged, by SHA-256 of the token, with their grant:
    /// one coming back is a replay, and revokes the grant.
    pub const SPENT_REFRESH_TOKENS: &str = "demo-server-spent-refresh-tokens";
    /// Grants revoked for a replayed refresh token, by grant ID.
    pub const REVOKED_GRANTS: &str = "demo-server-revoked-grants";
}

/// Receives one line per thing the server did (never a secret).
pub type EventSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What the handlers share.
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`, without a trailing `/`.
    pub(crate) issuer: String,
    /// The MCP endpoint's URL: the protected resource.
    pub(crate) resource: String,
    pub(crate) store: Arc<dyn AsyncKeyValue>,
    pub(crate) access_lifetime: Duration,
    pub(crate) events: Option<EventSink>,
    /// For client ID metadata documents.
    pub(crate) http: reqwest::Client,
}

impl Shared {
    pub(crate) fn event(&self, text: impl AsRef<str>) {
        if let Some(sink) = &self.events {
            sink(text.as_ref());
        }
    }

    pub(crate) fn prm_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource{MCP_PATH}",
            self.issuer
        )
    }
}

pub(crate) type AppState = Arc<Shared>;

/// Settings of a [`DemoServer`]; start with [`DemoServer::builder`].
#[must_use]
pub struct DemoServerBuilder {
    ip: IpAddr,
    port: u16,
    access_lifetime: Duration,
    store: Option<Arc<dyn AsyncKeyValue>>,
    events: Option<EventSink>,
    allow_non_loopback: bool,
}

impl fmt::Debug for DemoServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoServerBuilder")
            .field("ip", &self.ip)
            .field("port", &self.port)
            .field("access_lifetime", &self.access_lifetime)
            .finish_non_exhaustive()
    }
}

impl DemoServerBuilder {
    /// The port to listen on; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address to bind (default `127.0.0.1`). Anything but loopback is refused
    /// unless [`allow_non_loopback`](Self::allow_non_loopback) is set.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// Allow binding a non-loopback address. The server speaks plain HTTP, so tokens
    /// then cross the network unencrypted; clients such as oauth-core refuse plain-HTTP
    /// authorization servers off loopback anyway.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// How long access tokens live (default one hour). Short lifetimes show refreshes.
    /// [`start`](Self::start) refuses a zero lifetime and one that ends past the year
    /// 9999, as the store refuses such a ttl (`InvalidInput`).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_lifetime = lifetime;
        self
    }

    /// Where clients, codes and tokens are kept (default: in memory). A persistent
    /// store keeps tokens valid across restarts on the same port.
    pub fn state_store(mut self, store: Arc<dyn AsyncKeyValue>) -> Self {
        self.store = Some(store);
        self
    }

    /// Called with one line per request the server handled (never a secret).
    pub fn on_event(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }

    /// Binds the port and starts serving in the background. A port in use is an
    /// [`io::ErrorKind::AddrInUse`] error.
    pub async fn start(self) -> io::Result<DemoServer> {
        if !self.ip.is_loopback() && !self.allow_non_loopback {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a loopback address; the demo server binds to loopback only",
                    self.ip
                ),
            ));
        }
        // Checked once here, as the store checks an entry's ttl: every token then gets
        // an expiry the store can keep.
        key_value::expiry_for(Some(self.access_lifetime), std::time::SystemTime::now()).map_err(
            |e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("access token lifetime: {e}"),
                )
            },
        )?;
        let listener = TcpListener::bind(SocketAddr::new(self.ip, self.port)).await?;
        let addr = listener.local_addr()?;
        let host = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let issuer = format!("http://{host}:{}", addr.port());
        let http = oauth_core::http_client_builder()
            .map_err(io::Error::other)?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            resource: format!("{issuer}{MCP_PATH}"),
            issuer,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryStore::new()) as Arc<dyn AsyncKeyValue>),
            access_lifetime: self.access_lifetime,
            events: self.events,
            http,
        });
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("demo server stopped: {e}");
            }
        });
        Ok(DemoServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// The routes of the demo server.
fn router(shared: AppState) -> Router {
    Router::new()
        .route("/", get(metadata::home))
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::protected_resource),
        )
        .route("/register", post(clients::register))
        .route("/authorize", get(authorize::authorize))
        .route("/token", post(token::token))
        .route("/revoke", post(token::revoke))
        .route(
            MCP_PATH,
            post(mcp::post)
                .get(mcp::not_allowed)
                .delete(mcp::not_allowed),
        )
        .with_state(shared)
}

/// A running demo server; stops when dropped or on [`DemoServer::shutdown`].
pub struct DemoServer {
    addr: SocketAddr,
    shared: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoServer")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl DemoServer {
    /// Starts building a server (loopback, a free port, one-hour access tokens).
    pub fn builder() -> DemoServerBuilder {
        DemoServerBuilder {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            access_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            store: None,
            events: None,
            allow_non_loopback: false,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The authorization server's issuer, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The protected MCP endpoint, `http://127.0.0.1:PORT/mcp`: the URL to give a client.
    pub fn mcp_url(&self) -> &str {
        &self.shared.resource
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An OAuth error response: `{"error": code, "error_description": why}`, not cached.
pub(crate) fn oauth_error(
    status: axum::http::StatusCode,
    code: &str,
    why: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::PRAGMA, "no-cache"),
        ],
        axum::Json(serde_json::json!({"error": code, "error_description": why})),
    )
        .into_response()
}

/// The parameters of a query string or form, refusing repeated names (RFC 6749 3.1).
pub(crate) fn single_params(
    encoded: &[u8],
) -> Result<std::collections::HashMap<String, String>, String> {
    let mut params = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!("the parameter `{name}` is repeated"));
        }
    }
    Ok(params)
}
