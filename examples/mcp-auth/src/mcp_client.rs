//! A minimal MCP client over Streamable HTTP, authenticated by oauth-core as
//! `reqwest` middleware: enough to initialize, list tools and call one.
//!
//! ```no_run
//! use mcp_auth::mcp_client::McpClient;
//! use oauth_core::OAuth;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let oauth = OAuth::builder("http://127.0.0.1:8391/mcp").build()?;
//! let mut mcp = McpClient::new(oauth)?;
//! mcp.initialize().await?;
//! println!("{:?}", mcp.list_tools().await?);
//! println!("{}", mcp.call_tool("add", serde_json::json!({"a": 2, "b": 3})).await?);
//! # Ok(()) }
//! ```

use oauth_core::OAuth;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};

/// The protocol version the client asks for unless told otherwise.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Protocol versions without the `initialize` handshake (SEP-2575): each request
/// carries the version and the client's description in `params._meta` instead.
const STATELESS_VERSIONS: &[&str] = &["2026-07-28"];

/// What can go wrong talking to the MCP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The request failed (network, or obtaining a token).
    #[error("request to the MCP server failed: {0}")]
    Request(#[from] reqwest_middleware::Error),
    /// Reading the response failed.
    #[error("reading the MCP server's answer failed: {0}")]
    Read(#[from] reqwest::Error),
    /// The HTTP client could not be set up (TLS).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(#[from] oauth_core::Error),
    /// The server answered with an HTTP error.
    #[error("the MCP server answered HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The server answered with a JSON-RPC error or an unreadable message.
    #[error("the MCP server answered {method} with an error: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// What the server said.
        message: String,
    },
}

/// An MCP session with one server.
#[derive(Debug)]
pub struct McpClient {
    http: ClientWithMiddleware,
    url: String,
    version: String,
    stateless: bool,
    session: Option<String>,
    next_id: u64,
}

/// How the client describes itself to the server.
fn client_info() -> Value {
    json!({"name": "key-value-rs examples", "version": env!("CARGO_PKG_VERSION")})
}

impl McpClient {
    /// A client for the server `oauth` authorizes for; every request carries its token.
    ///
    /// # Errors
    ///
    /// [`McpError::Setup`] when TLS cannot be set up.
    pub fn new(oauth: OAuth) -> Result<Self, McpError> {
        let url = oauth.server_url().to_string();
        let client = oauth_core::http_client_builder()?
            .build()
            .map_err(McpError::Read)?;
        let http = reqwest_middleware::ClientBuilder::new(client)
            .with(oauth)
            .build();
        Ok(McpClient {
            http,
            url,
            version: PROTOCOL_VERSION.into(),
            stateless: false,
            session: None,
            next_id: 1,
        })
    }

    /// Speaks protocol `version` instead of [`PROTOCOL_VERSION`].
    pub fn with_protocol_version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self.stateless = STATELESS_VERSIONS.contains(&version);
        self
    }

    /// `initialize` then `notifications/initialized`; returns the server's result. With a
    /// protocol version that has no handshake it sends nothing and returns `null`.
    pub async fn initialize(&mut self) -> Result<Value, McpError> {
        if self.stateless {
            return Ok(Value::Null);
        }
        let result = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": self.version,
                    "capabilities": {},
                    "clientInfo": client_info(),
                }),
            )
            .await?;
        if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
            self.version = v.to_string();
        }
        let response = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(McpError::Status {
                status: response.status().as_u16(),
                body: String::new(),
            });
        }
        Ok(result)
    }

    /// The names of the server's tools.
    pub async fn list_tools(&mut self) -> Result<Vec<String>, McpError> {
        let result = self.request("tools/list", json!({})).await?;
        Ok(result
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Calls a tool; returns its text content (a tool error is an [`McpError::Rpc`]).
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Result<String, McpError> {
        let result = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await?;
        let text: Vec<&str> = result
            .get("content")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("text").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let text = text.join("\n");
        if result.get("isError").and_then(Value::as_bool) == Some(true) {
            return Err(McpError::Rpc {
                method: format!("tools/call {name}"),
                message: text,
            });
        }
        Ok(text)
    }

    fn post(&self, mut body: Value) -> reqwest_middleware::RequestBuilder {
        if self.stateless
            && let Some(message) = body.as_object_mut()
            && let Some(params) = message
                .entry("params")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        {
            params.insert(
                "_meta".into(),
                json!({
                    "io.modelcontextprotocol/protocolVersion": self.version,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": client_info(),
                }),
            );
        }
        let mut request = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", &self.version)
            .json(&body);
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        request
    }

    /// Sends a request and returns its `result`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id;
        self.next_id += 1;
        let response = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .send()
            .await?;
        let status = response.status();
        if let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            self.session = Some(session.to_string());
        }
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let text = response.text().await?;
        if !status.is_success() {
            return Err(McpError::Status {
                status: status.as_u16(),
                body: text.chars().take(200).collect(),
            });
        }
        let rpc = |message: &str| McpError::Rpc {
            method: method.to_string(),
            message: message.to_string(),
        };
        let message: Value = if is_sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m.get("id") == Some(&json!(id)))
                .ok_or_else(|| rpc("no response in the event stream"))?
        } else {
            serde_json::from_str(&text).map_err(|_| rpc("the answer is not JSON"))?
        };
        if let Some(error) = message.get("error") {
            let text = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            return Err(rpc(text));
        }
        Ok(message.get("result").cloned().unwrap_or(Value::Null))
    }
}
