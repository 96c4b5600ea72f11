//! An OAuth 2.1 client for MCP servers that keeps its tokens in any key-value store.
//!
//! Give it the MCP endpoint; it discovers the authorization server (RFC 9728, RFC 8414),
//! registers (pre-registered credentials, a client ID metadata document, or RFC 7591),
//! sends the user through the browser with PKCE S256, and keeps tokens, registration
//! and server metadata in the store you choose, in the layout FastMCP uses. Tokens are
//! refreshed before they expire and after a 401, one refresh at a time.
//!
//! With reqwest 0.13 and reqwest-middleware 0.5, and reqwest's `rustls-no-provider`
//! feature (one rustls, ring as its crypto provider, no OpenSSL; see the README for
//! the dependency lines):
//!
//! ```no_run
//! use key_value_memory::MemoryStore;
//! use oauth_core::{ExposeSecret, OAuth};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Once, before any reqwest client is built: reqwest has no crypto provider of its own.
//! let _ = rustls::crypto::ring::default_provider().install_default();
//!
//! let oauth = OAuth::builder("https://mcp.example.com/mcp")
//!     .client_name("my agent")
//!     .token_storage(MemoryStore::new()) // any store, e.g. an encrypted disk store
//!     .build()?;
//!
//! // As reqwest middleware: every request to the server carries a valid token.
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(oauth.clone())
//!     .build();
//! let response = http
//!     .post("https://mcp.example.com/mcp")
//!     .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
//!     .send()
//!     .await?;
//! println!("{}", response.status());
//!
//! // Or for another HTTP stack: a valid token (a `SecretString`).
//! let token = oauth.access_token().await?;
//! let authorization = format!("Bearer {}", token.expose_secret());
//! # let _ = authorization;
//! # Ok(())
//! # }
//! ```
//!
//! Machine to machine (client credentials, secret or private-key JWT):
//!
//! ```no_run
//! # async fn demo() -> Result<(), oauth_core::Error> {
//! let oauth = oauth_core::OAuth::builder("https://mcp.example.com/mcp")
//!     .client_credentials()
//!     .client_id("service-a")
//!     .client_secret("…")
//!     .build()?;
//! let token = oauth.access_token().await?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
//!
//! Tokens, secrets and authorization codes are [`secrecy`] values: they never appear
//! in `Debug` output or logs.
//!
//! # Features
//!
//! - `memory` (default): `key-value-memory`'s `MemoryStore`
//!   is the token storage when none is configured (tokens lost on exit, with a logged
//!   warning). Without it oauth-core depends on no store crate, only on the store
//!   contract (`key-value-core`), and [`OAuthBuilder::build`] returns
//!   [`Error::Config`] when no [`token_storage`](OAuthBuilder::token_storage) is given:
//!
//! ```toml
//! oauth-core = { version = "0.1", default-features = false }
//! ```

// The README's code blocks are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod authorize;
mod callback;
mod config;
mod discovery;
mod error;
mod flow;
mod http;
mod jwt;
pub mod layout;
mod middleware;
mod registration;
mod scope;
mod storage;
pub mod text;
mod token;

pub use config::{BrowserMode, DEFAULT_CALLBACK_TIMEOUT, JwtAlgorithm, OAuthBuilder, OpenUrl};
pub use error::{Error, ErrorCode, Result, Tried};
pub use flow::OAuth;
pub use flow::revoke::Revocation;
pub use http::http_client_builder;
pub use layout::{
    CLIENT_COLLECTION, EXPIRY_COLLECTION, LEASE_COLLECTION, METADATA_COLLECTION, TOKEN_COLLECTION,
};

/// Re-exported so callers can read tokens without adding the dependency.
pub use secrecy::{ExposeSecret, SecretString};
