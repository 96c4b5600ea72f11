//! The loopback server that receives the authorization response on `/callback`.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::error::{Error, Result};

/// The query parameters of an authorization response.
#[derive(Clone, Default)]
pub(crate) struct CallbackParams(pub(crate) HashMap<String, String>);

impl fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: `code` and `state` are secrets.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl CallbackParams {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// What the request handler shares with the waiting flow.
#[derive(Default)]
struct Waiting {
    /// Where the one accepted response goes; `None` once it went.
    sender: Option<oneshot::Sender<CallbackParams>>,
    /// The `state` of the authorization request in progress, once known.
    expected_state: Option<String>,
    /// How many responses carried another `state` and were turned away.
    refused: usize,
}

type Slot = Arc<Mutex<Waiting>>;

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Waiting> {
    // The guarded data stays consistent whatever panicked while holding it.
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running callback server: one result, then it stops.
pub(crate) struct CallbackServer {
    pub(crate) redirect_uri: String,
    slot: Slot,
    receiver: oneshot::Receiver<CallbackParams>,
    shutdown: Option<watch::Sender<()>>,
}

impl fmt::Debug for CallbackServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackServer")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The loopback addresses to listen on for a callback host (checked to be loopback at
/// build time). `localhost` gets both 127.0.0.1 and ::1, since a browser may resolve it
/// to either; the first address is required, the second used when the machine has it.
fn bind_ips(host: &str) -> Vec<IpAddr> {
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => vec![ip],
        Err(_) => vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
    }
}

/// Listens on `port` (0: any free port) of every address of [`bind_ips`]. Fails with
/// `AddrInUse` when any of them has the port taken: a browser going to the other
/// address would reach whoever holds it.
async fn bind_all(host: &str, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let ips = bind_ips(host);
    let Some((first, others)) = ips.split_first() else {
        return Err(std::io::Error::other("no address to listen on"));
    };
    let primary = TcpListener::bind(SocketAddr::new(*first, port)).await?;
    let port = primary.local_addr()?.port();
    let mut listeners = vec![primary];
    for ip in others {
        match TcpListener::bind(SocketAddr::new(*ip, port)).await {
            Ok(listener) => listeners.push(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
            // Typically a machine without IPv6 loopback.
            Err(e) => tracing::debug!(%ip, error = %e, "not listening on this loopback address"),
        }
    }
    Ok(listeners)
}

/// Whether a port on the callback host can be bound right now.
pub(crate) async fn port_is_free(host: &str, port: u16) -> bool {
    bind_all(host, port).await.is_ok()
}

impl CallbackServer {
    /// Listens on `host:port` (port 0: any free port) on loopback and starts serving.
    pub(crate) async fn start(host: &str, port: u16) -> Result<CallbackServer> {
        if !bind_ips(host).iter().all(IpAddr::is_loopback) {
            return Err(Error::Callback(format!("`{host}` is not a loopback host")));
        }
        // With any port allowed, a port free on 127.0.0.1 but taken on ::1 is worth
        // another try.
        let attempts = if port == 0 { 5 } else { 1 };
        let mut bound = Err(std::io::Error::other("no attempt"));
        for _ in 0..attempts {
            bound = bind_all(host, port).await;
            if !matches!(&bound, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse) {
                break;
            }
        }
        let listeners = bound.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::PortInUse {
                    host: host.to_string(),
                    port,
                }
            } else {
                Error::Callback(format!("cannot listen on {host}:{port}: {e}"))
            }
        })?;
        let bound = listeners
            .first()
            .and_then(|listener| listener.local_addr().ok())
            .ok_or_else(|| Error::Callback("cannot read the bound address".into()))?
            .port();
        let (sender, receiver) = oneshot::channel();
        let slot: Slot = Arc::new(Mutex::new(Waiting {
            sender: Some(sender),
            ..Waiting::default()
        }));
        let app = Router::new()
            .route("/callback", axum::routing::get(handle))
            .fallback(not_found)
            .with_state(slot.clone());
        let (stop, stopped) = watch::channel(());
        for listener in listeners {
            let (app, mut stopped) = (app.clone(), stopped.clone());
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        // A send or the sender's drop: either way, stop.
                        let _ = stopped.changed().await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::warn!(error = %e, "the callback server stopped with an error");
                }
            });
        }
        drop(stopped);
        let redirect_uri = format!("http://{host}:{bound}/callback");
        tracing::debug!(%redirect_uri, "callback server listening");
        Ok(CallbackServer {
            redirect_uri,
            slot,
            receiver,
            shutdown: Some(stop),
        })
    }

    /// Accepts only responses to the authorization request with this `state`: others
    /// (a stray or forged request to the callback) get an error page, and the server
    /// keeps waiting for the real one.
    pub(crate) fn expect_state(&self, state: &str) {
        lock(&self.slot).expected_state = Some(state.to_string());
    }

    /// Waits for the one authorization response, up to `timeout`.
    pub(crate) async fn wait(mut self, timeout: Duration) -> Result<CallbackParams> {
        let result = tokio::time::timeout(timeout, &mut self.receiver).await;
        match result {
            Ok(Ok(params)) => Ok(params),
            Ok(Err(_)) => Err(Error::Callback("the callback server stopped".into())),
            Err(_) => match lock(&self.slot).refused {
                0 => Err(Error::Timeout(timeout)),
                refused => Err(Error::InvalidResponse(format!(
                    "no authorization response with the expected `state` arrived within \
                     {timeout:?}; {refused} with another state were refused (possible forgery)"
                ))),
            },
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

async fn handle(
    State(slot): State<Slot>,
    Query(params): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let well_formed = params.contains_key("code") || params.contains_key("error");
    if !well_formed || !params.contains_key("state") {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid authorization response",
            "The request has no authorization code or error, or no state.",
        );
    }
    let sender = {
        let mut waiting = lock(&slot);
        // Until the request's state is known, nothing can be ours.
        let expected = waiting.expected_state.as_deref().map(str::as_bytes);
        let state = params.get("state").map(String::as_bytes);
        let ours = match (expected, state) {
            (Some(expected), Some(state)) => bool::from(state.ct_eq(expected)),
            _ => false,
        };
        if !ours {
            waiting.refused += 1;
            return page(
                StatusCode::BAD_REQUEST,
                "Not the login in progress",
                "This authorization response does not belong to the login this program is \
                 waiting for (its state does not match), so it was ignored. If you did not \
                 start it, you can close this window.",
            );
        }
        waiting.sender.take()
    };
    let Some(sender) = sender else {
        return page(
            StatusCode::CONFLICT,
            "Already handled",
            "An authorization response was already received. You can close this window.",
        );
    };
    let outcome = match params.get("error") {
        Some(error) => {
            let detail = params
                .get("error_description")
                .map(|d| format!("{error}: {d}"))
                .unwrap_or_else(|| error.clone());
            page(StatusCode::OK, "Authorization failed", &detail)
        }
        None => page(
            StatusCode::OK,
            "Authorization complete",
            "You can close this window and return to the application.",
        ),
    };
    let _ = sender.send(CallbackParams(params));
    outcome
}

async fn not_found() -> impl IntoResponse {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This server only answers /callback.",
    )
}

fn page(status: StatusCode, title: &str, message: &str) -> (StatusCode, Html<String>) {
    let (title, message) = (escape_html(title), escape_html(message));
    (
        status,
        Html(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1><p>{message}</p></body></html>"
        )),
    )
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x'&")</script>"#),
            "&lt;script&gt;alert(&quot;x&#x27;&amp;&quot;)&lt;/script&gt;"
        );
    }

    /// Sends `GET /elsewhere` to `address` and returns the status line.
    async fn status_line(address: SocketAddr) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /elsewhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.lines().next().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn localhost_is_served_on_both_loopback_addresses() {
        let server = CallbackServer::start("localhost", 0).await.unwrap();
        let port: u16 = server
            .redirect_uri
            .trim_start_matches("http://localhost:")
            .trim_end_matches("/callback")
            .parse()
            .unwrap();
        let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        assert_eq!(status_line(v4).await, "HTTP/1.1 404 Not Found");
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        if has_ipv6_loopback("callback on ::1") {
            assert_eq!(status_line(v6).await, "HTTP/1.1 404 Not Found");
        }
    }

    /// Whether this machine has ::1; without it, a loud skip of that part of `test` (a
    /// failure under `KEYVALUE_REQUIRE_SERVERS=1`), as for a missing test server.
    fn has_ipv6_loopback(test: &str) -> bool {
        let available = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
        if !available {
            key_value_test_support::skip(test, "this machine has no IPv6 loopback (::1)");
        }
        available
    }

    #[tokio::test]
    async fn a_port_taken_on_either_address_is_in_use() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        assert!(!port_is_free("localhost", port).await);
        assert!(matches!(
            CallbackServer::start("localhost", port).await,
            Err(Error::PortInUse { .. })
        ));
        if has_ipv6_loopback("port taken on ::1") {
            let taken = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
            let port = taken.local_addr().unwrap().port();
            assert!(!port_is_free("localhost", port).await);
            assert!(port_is_free("127.0.0.1", port).await);
        }
    }

    #[test]
    fn params_debug_hides_values() {
        let mut map = HashMap::new();
        map.insert("code".to_string(), "secret-code-123".to_string());
        assert!(!format!("{:?}", CallbackParams(map)).contains("secret-code-123"));
    }
}
