//! The user-facing programs of key-value-rs and the pieces they are made of.
//!
//! - `mcp-auth` ([`mcp_auth`]): logs in to OAuth-protected MCP servers and keeps the
//!   tokens in any store of the family, encrypted by default
//!   (`cargo run -p examples --bin mcp-auth -- demo`).
//! - `demo-server` ([`demo_server`]): a small authorization server with a protected MCP
//!   endpoint on loopback, for demos and tests (`cargo run -p examples --bin demo-server`).
//! - Short examples in `examples/` (`cargo run -p examples --example NAME`).
//!
//! An OAuth client with its own token store, against the demo server in-process:
//!
//! ```no_run
//! use std::sync::Arc;
//! use examples::demo_server::DemoServer;
//! use examples::mcp_client::McpClient;
//! use key_value::memory::MemoryStore;
//! use oauth_core::{BrowserMode, OAuth};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = DemoServer::builder().start().await?;
//! let oauth = OAuth::builder(server.mcp_url())
//!     .token_storage(MemoryStore::new())
//!     .browser(BrowserMode::FetchRedirect) // the demo server consents by itself
//!     .build()?;
//! let mut mcp = McpClient::new(oauth);
//! mcp.initialize().await?;
//! assert_eq!(mcp.call_tool("add", serde_json::json!({"a": 2, "b": 3})).await?, "5");
//! # Ok(()) }
//! ```

pub mod demo_server;
pub mod encryption;
pub mod mcp_auth;
pub mod mcp_client;
pub mod store_spec;
