//! The client that the official MCP conformance suite drives in its authorization
//! scenarios: oauth-core for authorization, and the examples' MCP client for a minimal
//! Streamable HTTP exchange (`initialize`, `notifications/initialized`, `tools/list`,
//! `tools/call`).
//!
//! Usage: `conformance-client [ARGS…] SERVER_URL`, with `MCP_CONFORMANCE_SCENARIO`,
//! `MCP_CONFORMANCE_CONTEXT` (JSON) and `MCP_CONFORMANCE_PROTOCOL_VERSION` set by the
//! suite. Exits non-zero when any step fails. Run by `scripts/mcp-conformance`; set
//! `RUST_LOG` to see oauth-core's debug log on standard error.

use std::process::ExitCode;

use mcp_auth::mcp_client::{McpClient, PROTOCOL_VERSION};
use oauth_core::{BrowserMode, JwtAlgorithm, OAuth};
use serde_json::{Value, json};

/// The client ID metadata document URL the suite expects for CIMD.
const CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";

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
    const USAGE: &str = "usage: conformance-client SERVER_URL (run by the MCP conformance \
                         suite, see scripts/mcp-conformance)";
    let Some(server_url) = std::env::args().skip(1).last() else {
        return Err(USAGE.into());
    };
    if server_url.starts_with('-') {
        // `--help` and the like: nothing to connect to.
        return Err(USAGE.into());
    }
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let version = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION")
        .unwrap_or_else(|_| PROTOCOL_VERSION.into());
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let field = |k: &str| context.get(k).and_then(Value::as_str).map(str::to_string);
    eprintln!("conformance client: scenario {scenario}, protocol {version}, server {server_url}");

    // The suite's authorization servers redirect at once: follow the redirect instead of
    // opening a browser.
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
    let mut mcp = McpClient::new(builder.build()?)?.with_protocol_version(&version);

    mcp.initialize().await?;
    eprintln!("conformance client: initialized");
    let tools = mcp.list_tools().await?;
    eprintln!("conformance client: tools/list ok");
    let name = tools.first().map_or("test-tool", String::as_str);
    // The result itself does not matter to the suite, only that the call was authorized.
    mcp.request("tools/call", json!({"name": name, "arguments": {}}))
        .await?;
    eprintln!("conformance client: tools/call ok");
    Ok(())
}
