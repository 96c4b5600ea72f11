//! A client for the MCP conformance suite's authorization scenarios: oauth-core plus a
//! minimal MCP Streamable HTTP exchange.
//!
//! Usage: `conformance_client [ARGS…] SERVER_URL`, with `MCP_CONFORMANCE_SCENARIO`,
//! `MCP_CONFORMANCE_CONTEXT` (JSON) and `MCP_CONFORMANCE_PROTOCOL_VERSION` set by the
//! suite. Exits non-zero when any step fails. Run by `scripts/mcp-conformance`.

use std::process::ExitCode;

use oauth_core::{BrowserMode, JwtAlgorithm, OAuth};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};

/// The client ID metadata document URL the suite expects for CIMD.
const CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";
/// Protocol versions without the initialize handshake (SEP-2575).
const STATELESS_VERSIONS: &[&str] = &["2026-07-28"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .init();
    }
    match run().await {
        Ok(()) => {
            eprintln!("conformance client: done");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("conformance client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Some(server_url) = std::env::args().skip(1).last() else {
        return Err("usage: conformance_client SERVER_URL".into());
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let version =
        std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|_| "2025-11-25".into());
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let field = |k: &str| context.get(k).and_then(Value::as_str).map(str::to_string);
    eprintln!("conformance client: scenario {scenario}, protocol {version}, server {server_url}");

    let mut builder = OAuth::builder(&server_url)
        .client_name("oauth-core conformance client")
        .browser(BrowserMode::FetchRedirect)
        .client_metadata_url(CIMD_URL);
    if let Some(id) = field("client_id") {
        builder = builder.client_id(id);
    }
    if let Some(secret) = field("client_secret") {
        builder = builder.client_secret(secret);
    }
    if let Some(pem) = field("private_key_pem") {
        builder = builder.private_key_jwt(pem, JwtAlgorithm::Es256);
    }
    if scenario.starts_with("auth/client-credentials") {
        builder = builder.client_credentials();
    }
    let oauth = builder.build()?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(oauth)
        .build();
    let mut mcp = Mcp {
        http,
        url: server_url,
        version: version.clone(),
        stateless: STATELESS_VERSIONS.contains(&version.as_str()),
        session: None,
        next_id: 1,
    };
    if !mcp.stateless {
        let init = mcp
            .request(
                "initialize",
                json!({
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "oauth-core-conformance", "version": "0.1.0"},
                }),
            )
            .await?;
        if let Some(v) = init.get("protocolVersion").and_then(Value::as_str) {
            mcp.version = v.to_string();
        }
        mcp.notify("notifications/initialized").await?;
    }
    let tools = mcp.request("tools/list", json!({})).await?;
    let name = tools
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("test-tool")
        .to_string();
    mcp.request("tools/call", json!({"name": name, "arguments": {}}))
        .await?;
    Ok(())
}

/// A minimal MCP Streamable HTTP client.
struct Mcp {
    http: ClientWithMiddleware,
    url: String,
    version: String,
    stateless: bool,
    session: Option<String>,
    next_id: u64,
}

impl Mcp {
    fn post(&self, mut body: Value) -> reqwest_middleware::RequestBuilder {
        if self.stateless {
            let meta = json!({
                "io.modelcontextprotocol/protocolVersion": self.version,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "oauth-core-conformance", "version": "0.1.0"},
            });
            if let Some(obj) = body.as_object_mut() {
                let params = obj.entry("params").or_insert_with(|| json!({}));
                if let Some(p) = params.as_object_mut() {
                    p.insert("_meta".into(), meta);
                }
            }
        }
        let mut req = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", &self.version)
            .json(&body);
        if let Some(session) = &self.session {
            req = req.header("Mcp-Session-Id", session);
        }
        req
    }

    async fn request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(body).send().await?;
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
            return Err(format!("{method}: HTTP {status}: {text}").into());
        }
        let message = if is_sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m.get("id") == Some(&json!(id)))
                .ok_or_else(|| format!("{method}: no response in the event stream"))?
        } else {
            serde_json::from_str(&text)?
        };
        if let Some(error) = message.get("error") {
            return Err(format!("{method}: JSON-RPC error {error}").into());
        }
        eprintln!("conformance client: {method} ok");
        Ok(message.get("result").cloned().unwrap_or(Value::Null))
    }

    async fn notify(&mut self, method: &str) -> Result<(), Box<dyn std::error::Error>> {
        let response = self
            .post(json!({"jsonrpc": "2.0", "method": method}))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("{method}: HTTP {}", response.status()).into());
        }
        Ok(())
    }
}
