//! [rmcp](https://docs.rs/rmcp), the official Rust SDK for the Model Context Protocol,
//! with oauth-core and the key-value store family. Two independent pieces:
//!
//! - **rmcp's own OAuth flow, persisted anywhere**: [`KeyValueCredentialStore`] and
//!   [`KeyValueStateStore`] implement rmcp's `CredentialStore` and `StateStore` over any
//!   store of the family (`Arc<dyn AsyncKeyValue>`: Redis, DynamoDB, an encrypted SQLite
//!   file, a directory, memory). Credentials are kept in the layout FastMCP and oauth-core
//!   use, so rmcp, oauth-core and FastMCP clients sharing a store share one login; see
//!   [`store`] for every key and value and the reasons for the mapping.
//! - **oauth-core's flow inside rmcp**: [`OAuthHttpClient`] is an rmcp Streamable HTTP
//!   client whose tokens come from an [`oauth_core::OAuth`]: oauth-core's discovery,
//!   registration, refresh ahead of expiry under a lease shared by a fleet, retry after
//!   a `401`, step-up after a `403 insufficient_scope`, and FastMCP's store layout.
//!   [`transport`] builds rmcp's transport with it.
//!
//! The MCP protocol itself (JSON-RPC framing, the lifecycle, Streamable HTTP with JSON
//! and SSE responses, sessions) is rmcp's: this crate only adds the `Authorization`
//! header and reacts to the server's challenges. rmcp 3.11 or later 3.x, with the
//! features `client`, `auth` and `transport-streamable-http-client-reqwest`.
//!
//! ```no_run
//! use rmcp::ServiceExt;
//! use rmcp::model::CallToolRequestParams;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Once, before any reqwest client is built: reqwest has no crypto provider of its own.
//! let _ = rustls::crypto::ring::default_provider().install_default();
//!
//! let store = key_value_memory::MemoryStore::new(); // any store of the family
//! let oauth = oauth_core::OAuth::builder("https://mcp.example.com/mcp")
//!     .token_storage(store)
//!     .build()?;
//! let client = ().serve(oauth_core_rmcp::transport(oauth)?).await?;
//! for tool in client.list_all_tools().await? {
//!     println!("{}", tool.name);
//! }
//! let mut arguments = serde_json::Map::new();
//! arguments.insert("a".into(), 2.into());
//! arguments.insert("b".into(), 3.into());
//! let result = client
//!     .call_tool(CallToolRequestParams::new("add").with_arguments(arguments))
//!     .await?;
//! println!("{:?}", result.content);
//! client.cancel().await?;
//! # Ok(()) }
//! ```
//!
//! rmcp's own flow with a persistent store:
//!
//! ```no_run
//! use std::sync::Arc;
//! use oauth_core_rmcp::{KeyValueCredentialStore, KeyValueStateStore};
//! use rmcp::transport::auth::AuthorizationManager;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "https://mcp.example.com/mcp";
//! let store: Arc<dyn key_value_core::AsyncKeyValue> =
//!     Arc::new(key_value_memory::MemoryStore::new()); // e.g. an encrypted SQLite store
//! let mut manager = AuthorizationManager::new(url).await?;
//! manager.set_credential_store(KeyValueCredentialStore::new(store.clone(), url)?);
//! manager.set_state_store(KeyValueStateStore::new(store));
//! if manager.initialize_from_store().await? {
//!     println!("logged in from the store");
//! }
//! # Ok(()) }
//! ```

// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod store;
mod transport;

pub use store::{KeyValueCredentialStore, KeyValueStateStore};
pub use transport::{OAuthHttpClient, OAuthTransport, transport};
