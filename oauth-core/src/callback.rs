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
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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

type Slot = Arc<Mutex<Option<oneshot::Sender<CallbackParams>>>>;

/// A running callback server: one result, then it stops.
pub(crate) struct CallbackServer {
    pub(crate) redirect_uri: String,
    receiver: oneshot::Receiver<CallbackParams>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl fmt::Debug for CallbackServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackServer")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The loopback address to bind for a callback host (checked at build time).
fn bind_ip(host: &str) -> IpAddr {
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => ip,
        Err(_) if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        Err(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// Whether a port on the callback host can be bound right now.
pub(crate) async fn port_is_free(host: &str, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(bind_ip(host), port))
        .await
        .is_ok()
}

impl CallbackServer {
    /// Binds `host:port` (port 0: any free port) on loopback and starts serving.
    pub(crate) async fn start(host: &str, port: u16) -> Result<CallbackServer> {
        let ip = bind_ip(host);
        if !ip.is_loopback() {
            return Err(Error::Callback(format!("`{host}` is not a loopback host")));
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, port))
            .await
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    Error::PortInUse {
                        host: host.to_string(),
                        port,
                    }
                } else {
                    Error::Callback(format!("cannot listen on {host}:{port}: {e}"))
                }
            })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Callback(format!("cannot read the bound address: {e}")))?
            .port();
        let (sender, receiver) = oneshot::channel();
        let slot: Slot = Arc::new(Mutex::new(Some(sender)));
        let app = Router::new()
            .route("/callback", axum::routing::get(handle))
            .fallback(not_found)
            .with_state(slot);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "the callback server stopped with an error");
            }
        });
        let redirect_uri = format!("http://{host}:{bound}/callback");
        tracing::debug!(%redirect_uri, "callback server listening");
        Ok(CallbackServer {
            redirect_uri,
            receiver,
            shutdown: Some(stop),
        })
    }

    /// Waits for the one authorization response, up to `timeout`.
    pub(crate) async fn wait(mut self, timeout: Duration) -> Result<CallbackParams> {
        let result = tokio::time::timeout(timeout, &mut self.receiver).await;
        match result {
            Ok(Ok(params)) => Ok(params),
            Ok(Err(_)) => Err(Error::Callback("the callback server stopped".into())),
            Err(_) => Err(Error::Timeout(timeout)),
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
    let sender = match slot.lock() {
        Ok(mut guard) => guard.take(),
        Err(poisoned) => poisoned.into_inner().take(),
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
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x'&")</script>"#),
            "&lt;script&gt;alert(&quot;x&#x27;&amp;&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn params_debug_hides_values() {
        let mut map = HashMap::new();
        map.insert("code".to_string(), "secret-code-123".to_string());
        assert!(!format!("{:?}", CallbackParams(map)).contains("secret-code-123"));
    }
}
