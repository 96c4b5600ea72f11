//! `mcp-auth demo`: the whole job on one machine, step by step. Starts the demo
//! authorization server and MCP endpoint on loopback, logs in without a browser,
//! keeps the tokens (encrypted) in the store, and calls tools with the token. A second
//! run finds the stored token and skips the login.
//!
//! Tokens belong to a server URL, port included, so the demo server must come back on
//! the same port: the port is kept in the store (collection `mcp-auth-demo`), and so is
//! the server's own state (clients and token hashes), so the server still knows the
//! token the client kept.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use key_value::{AsyncKeyValue, AsyncKeyValueExt};
use oauth_core::layout::StoredEntry;
use oauth_core::{BrowserMode, OAuth};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::commands::oauth_failure;
use super::store::{self, Opened, Options, describe_expiry, server_key, token_info};
use super::{DemoArgs, Failure, Outcome};
use crate::mcp_client::McpClient;
use crate::output::outln;
use mcp_demo_server::DemoServer;

/// The collection of the demo's own settings.
pub const DEMO_COLLECTION: &str = "mcp-auth-demo";
/// The port the demo server tries first.
pub const DEFAULT_PORT: u16 = 8391;

#[derive(Serialize, Deserialize)]
struct DemoSettings {
    port: u16,
}

type Events = Arc<Mutex<Vec<String>>>;

/// Prints what the server did since the last call, indented.
fn print_events(events: &Events) -> Vec<String> {
    let drained: Vec<String> = events
        .lock()
        .map(|mut e| e.drain(..).collect())
        .unwrap_or_default();
    for event in &drained {
        outln!("     server: {event}");
    }
    drained
}

/// Starts the server on the port of the last run, `--port`, the default, or any free one.
async fn start_server(
    opened: &Opened,
    args: &DemoArgs,
    events: &Events,
) -> Outcome<(DemoServer, String)> {
    let stored = opened
        .store
        .get_as::<DemoSettings>("server", Some(DEMO_COLLECTION))
        .await
        .map_err(store::store_failure)?
        .map(|s| s.port);
    let sink = events.clone();
    let start = |port: u16| {
        let sink = sink.clone();
        DemoServer::builder()
            .port(port)
            .access_token_lifetime(Duration::from_secs(args.token_lifetime.max(1)))
            .state_store(opened.store.clone())
            .on_event(move |e| {
                if let Ok(mut list) = sink.lock() {
                    list.push(e.to_string());
                }
            })
            .start()
    };
    let in_use = |e: &io::Error| e.kind() == io::ErrorKind::AddrInUse;
    let (server, note) = match (args.port, stored) {
        (Some(port), _) => {
            let note = match stored {
                Some(old) if old != port => {
                    format!("--port {port}; tokens from port {old} belong to another URL")
                }
                _ => format!("--port {port}"),
            };
            let server = start(port).await.map_err(|e| {
                if in_use(&e) {
                    Failure::failed(format!(
                        "port {port} is in use by another program; choose another with --port"
                    ))
                } else {
                    Failure::failed(format!("cannot start the demo server on port {port}: {e}"))
                }
            })?;
            (server, note)
        }
        (None, Some(port)) => {
            let server = start(port).await.map_err(|e| {
                if in_use(&e) {
                    Failure::failed(format!(
                        "port {port}, where the demo server ran last time (its stored tokens belong to \
                         http://127.0.0.1:{port}/mcp), is in use by another program; free it, or start \
                         over on another port with `mcp-auth demo --port PORT` (you will log in again)"
                    ))
                } else {
                    Failure::failed(format!("cannot start the demo server on port {port}: {e}"))
                }
            })?;
            (
                server,
                "the port of the last run, so stored tokens still fit".to_string(),
            )
        }
        (None, None) => match start(DEFAULT_PORT).await {
            Ok(server) => (server, "the default port".to_string()),
            Err(e) if in_use(&e) => {
                let server = start(0)
                    .await
                    .map_err(|e| Failure::failed(format!("cannot start the demo server: {e}")))?;
                let note = format!(
                    "port {DEFAULT_PORT} is busy, so a free one; the next run uses it again"
                );
                (server, note)
            }
            Err(e) => {
                return Err(Failure::failed(format!(
                    "cannot start the demo server on port {DEFAULT_PORT}: {e}"
                )));
            }
        },
    };
    opened
        .store
        .put_as(
            "server",
            &DemoSettings {
                port: server.port(),
            },
            None,
            Some(DEMO_COLLECTION),
        )
        .await
        .map_err(store::store_failure)?;
    Ok((server, note))
}

/// `mcp-auth demo`.
pub(crate) async fn run(options: &Options, args: DemoArgs) -> Outcome {
    outln!(
        "mcp-auth demo: logging in to an OAuth-protected MCP server on this machine, step by step."
    );
    let opened = store::open(options).await?;
    outln!("1. Token store: {}.", opened.describe());
    if !opened.spec.is_persistent() {
        outln!("   (memory: the tokens are gone when the demo ends, so every run logs in.)");
    }

    let events: Events = Arc::new(Mutex::new(Vec::new()));
    let (server, note) = start_server(&opened, &args, &events).await?;
    outln!(
        "2. Started the demo authorization server at {} ({note}).",
        server.issuer()
    );
    outln!(
        "   Its protected MCP endpoint is {}; the server keeps its own state in the same store.",
        server.mcp_url()
    );
    let result = session(&opened, &server, &events).await;
    server.shutdown().await;
    result
}

/// Steps 3 to 5, with the server running.
async fn session(opened: &Opened, server: &DemoServer, events: &Events) -> Outcome {
    let url = Url::parse(server.mcp_url())
        .map_err(|e| Failure::failed(format!("the demo server's URL is invalid: {e}")))?;
    let key = server_key(&url);
    let oauth = OAuth::builder(url.as_str())
        .client_name("mcp-auth demo")
        .token_storage(opened.store.clone())
        // The demo server approves at once: read the code from its redirect, no browser.
        .browser(BrowserMode::FetchRedirect)
        .build()
        .map_err(|e| oauth_failure(e, &url))?;

    let cached = oauth
        .cached_token()
        .await
        .map_err(|e| oauth_failure(e, &url))?;
    let info = || async { token_info(&opened.store, &key).await };
    if cached.is_some() {
        let renewed = events
            .lock()
            .map(|e| e.iter().any(|x| x.contains("refreshed")))
            .unwrap_or(false);
        let expiry = info()
            .await?
            .map(|i| describe_expiry(&i))
            .unwrap_or_default();
        if renewed {
            outln!(
                "3. The stored token had (nearly) expired: renewed it with the stored refresh token \
                 (no login needed); the new token is {expiry}:"
            );
            print_events(events);
        } else {
            outln!("3. Found a stored token for {url}, {expiry}: reusing it, no login needed.");
        }
    } else {
        outln!(
            "3. No usable token for {url} in the store: logging in without a browser \
             (the demo server approves at once):"
        );
        oauth
            .access_token()
            .await
            .map_err(|e| oauth_failure(e, &url))?;
        print_events(events);
        let expiry = info()
            .await?
            .map(|i| describe_expiry(&i))
            .unwrap_or_default();
        outln!("   Logged in: the access token is {expiry}; it and the refresh token are stored.");
    }

    match &opened.key {
        Some(_) => {
            let sealed = opened
                .raw
                .get(
                    &StoredEntry::Tokens.key(&key),
                    Some(StoredEntry::Tokens.collection()),
                )
                .await
                .map_err(store::store_failure)?;
            let data = sealed
                .as_ref()
                .and_then(|s| s.get(key_value::fernet::DATA_FIELD))
                .and_then(Value::as_str)
                .unwrap_or("");
            outln!(
                "4. At rest the token entry is sealed with Fernet: {{\"__encrypted_data__\": \"{}…\" \
                 ({} characters), \"__encryption_version__\": 1}}.",
                data.chars().take(12).collect::<String>(),
                data.len()
            );
        }
        None => outln!("4. The tokens are stored unencrypted (--no-encryption)."),
    }

    outln!("5. Calling the MCP server with the token:");
    let mcp_failure =
        |e: crate::mcp_client::McpError| Failure::failed(format!("the MCP call failed: {e}"));
    let mut mcp = McpClient::new(oauth.clone()).map_err(|e| Failure::failed(e.to_string()))?;
    let init = mcp.initialize().await.map_err(mcp_failure)?;
    outln!(
        "   initialize -> protocol {}, server \"{}\"",
        init.get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("?"),
        init.pointer("/serverInfo/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    );
    let tools = mcp.list_tools().await.map_err(mcp_failure)?;
    outln!("   tools/list -> {}", tools.join(", "));
    let whoami = mcp
        .call_tool("whoami", json!({}))
        .await
        .map_err(mcp_failure)?;
    outln!("   tools/call whoami -> {whoami}");
    let sum = mcp
        .call_tool("add", json!({"a": 2, "b": 3}))
        .await
        .map_err(mcp_failure)?;
    outln!("   tools/call add {{\"a\": 2, \"b\": 3}} -> {sum}");
    let renewed_now = print_quiet_refreshes(events);
    if renewed_now {
        outln!("   (the token was renewed with the refresh token on the way)");
    }

    outln!(
        "Done. Run `mcp-auth demo` again to see the stored token reused without a login, \
         and `mcp-auth status` to list stored tokens."
    );
    Ok(())
}

/// Whether the server refreshed a token during the MCP calls (events are dropped).
fn print_quiet_refreshes(events: &Events) -> bool {
    events
        .lock()
        .map(|mut e| e.drain(..).any(|x| x.contains("refreshed")))
        .unwrap_or(false)
}
