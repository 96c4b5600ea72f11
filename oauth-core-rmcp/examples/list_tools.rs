//! Lists and calls the tools of an OAuth-protected MCP server through rmcp, with tokens
//! from oauth-core.
//!
//! Without arguments it starts the workspace's demo server in this process (its
//! authorization endpoint approves at once) and logs in without a browser, reading the
//! authorization code from the redirect (`BrowserMode::FetchRedirect`):
//!
//! ```text
//! cargo run -p oauth-core-rmcp --example list_tools
//! ```
//!
//! With a URL it talks to that server instead and logs in through the browser, keeping
//! the tokens in memory:
//!
//! ```text
//! cargo run -p oauth-core-rmcp --example list_tools -- https://mcp.example.com/mcp
//! ```

use std::time::Duration;

use key_value_memory::MemoryStore;
use mcp_demo_server::DemoServer;
use oauth_core::{BrowserMode, OAuth};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // reqwest is built without a crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let (url, demo) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let server = DemoServer::builder()
                .access_token_lifetime(Duration::from_secs(60))
                .on_event(|event| eprintln!("  demo server: {event}"))
                .start()
                .await?;
            (server.mcp_url().to_string(), Some(server))
        }
    };
    let browser = if demo.is_some() {
        BrowserMode::FetchRedirect
    } else {
        BrowserMode::Open
    };
    let oauth = OAuth::builder(&url)
        .client_name("oauth-core-rmcp list_tools example")
        .token_storage(MemoryStore::new())
        .browser(browser)
        .build()?;

    println!("connecting to {url}");
    let client = ().serve(oauth_core_rmcp::transport(oauth)?).await?;
    if let Some(peer) = client.peer_info()
        && let Some(info) = &peer.server_info
    {
        println!("server: {} {}", info.name, info.version);
    }

    let tools = client.list_all_tools().await?;
    println!("{} tools:", tools.len());
    for tool in &tools {
        let description = tool.description.as_deref().unwrap_or("");
        println!("  {}: {description}", tool.name);
    }

    // The demo server's `add`, or the first tool without required arguments elsewhere.
    let call = if tools.iter().any(|t| t.name == "add") {
        let arguments = serde_json::json!({"a": 2, "b": 40});
        CallToolRequestParams::new("add")
            .with_arguments(arguments.as_object().cloned().unwrap_or_default())
    } else if let Some(tool) = tools.iter().find(|t| {
        t.input_schema
            .get("required")
            .and_then(|r| r.as_array())
            .is_none_or(|r| r.is_empty())
    }) {
        CallToolRequestParams::new(tool.name.to_string())
    } else {
        println!("no tool to call without arguments");
        client.cancel().await?;
        return Ok(());
    };
    let name = call.name.clone();
    let result = client.call_tool(call).await?;
    println!("{name} -> {}", serde_json::to_string(&result.content)?);

    client.cancel().await?;
    if let Some(server) = demo {
        server.shutdown().await;
    }
    Ok(())
}
