//! What oauth-core keeps in the store for each server, in FastMCP's layout: the public
//! view for tools that show or remove it without running an OAuth flow (a `status`
//! or `logout` command).
//!
//! Every entry of one MCP server lives under the key `{server}/{suffix}`, where
//! `{server}` is the server URL without a trailing `/` ([`server_key`]), in one
//! collection per kind of entry ([`StoredEntry`]). The first three are FastMCP's own,
//! so that FastMCP and oauth-core share one login; the last two are ours.
//!
//! ```
//! # async fn demo() -> oauth_core::Result<()> {
//! use std::sync::Arc;
//! use oauth_core::layout::{StoredEntry, TokenCache};
//!
//! let store = Arc::new(key_value_memory::MemoryStore::new());
//! let cache = TokenCache::new(store);
//! let url = url::Url::parse("https://mcp.example.com/mcp/").map_err(|e| oauth_core::Error::Config(e.to_string()))?;
//! let server = oauth_core::layout::server_key(&url);
//! assert_eq!(server, "https://mcp.example.com/mcp");
//! assert!(cache.token_status(&server).await?.is_none());
//! assert!(cache.present(&server, StoredEntry::ALL).await.is_empty());
//! cache.remove(&server, StoredEntry::ALL).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use key_value_core::AsyncKeyValue;
use serde_json::Value;
use url::Url;

use crate::error::Result;
use crate::http::str_field;

/// FastMCP's collection of token responses.
pub const TOKEN_COLLECTION: &str = "mcp-oauth-token";
/// FastMCP's collection of absolute token expiries.
pub const EXPIRY_COLLECTION: &str = "mcp-oauth-token-expiry";
/// FastMCP's collection of client registrations.
pub const CLIENT_COLLECTION: &str = "mcp-oauth-client-info";
/// Our own collection of authorization server metadata (FastMCP does not store it).
pub const METADATA_COLLECTION: &str = "oauth-core-server-metadata";
/// Our own collection of refresh leases: the entry that elects one process of a fleet
/// sharing the store to renew the tokens (FastMCP does not coordinate refreshes).
pub const LEASE_COLLECTION: &str = "oauth-core-refresh-lease";

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The prefix of every key kept for the server at `url`: the URL without a trailing
/// `/`, as FastMCP writes it.
pub fn server_key(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// One kind of entry kept for each server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoredEntry {
    /// The token response (FastMCP's `mcp-oauth-token` collection, key suffix `tokens`).
    Tokens,
    /// The absolute expiry of the access token, in seconds since the Unix epoch
    /// (`mcp-oauth-token-expiry`, suffix `token_expiry`).
    TokenExpiry,
    /// The client registration, RFC 7591 (`mcp-oauth-client-info`, suffix `client_info`),
    /// with an `issuer` field naming its authorization server and, after a login with it
    /// failed, `oauth_core_failed_login_at` (seconds since the Unix epoch): the next login
    /// registers anew.
    ClientInfo,
    /// The authorization server metadata, RFC 8414 (ours: `oauth-core-server-metadata`,
    /// suffix `authorization_server`).
    ServerMetadata,
    /// The lease that elects one refresher among processes (ours:
    /// `oauth-core-refresh-lease`, suffix `refresh`); it expires on its own.
    RefreshLease,
}

impl StoredEntry {
    /// Every kind, tokens first.
    pub const ALL: &'static [StoredEntry] = &[
        StoredEntry::Tokens,
        StoredEntry::TokenExpiry,
        StoredEntry::ClientInfo,
        StoredEntry::ServerMetadata,
        StoredEntry::RefreshLease,
    ];

    /// The entries of a login: the tokens and their expiry.
    pub const TOKENS: &'static [StoredEntry] = &[StoredEntry::Tokens, StoredEntry::TokenExpiry];

    /// The collection the entry is kept in.
    pub fn collection(self) -> &'static str {
        match self {
            StoredEntry::Tokens => TOKEN_COLLECTION,
            StoredEntry::TokenExpiry => EXPIRY_COLLECTION,
            StoredEntry::ClientInfo => CLIENT_COLLECTION,
            StoredEntry::ServerMetadata => METADATA_COLLECTION,
            StoredEntry::RefreshLease => LEASE_COLLECTION,
        }
    }

    /// The suffix of its key, after `{server}/`.
    pub fn suffix(self) -> &'static str {
        match self {
            StoredEntry::Tokens => "tokens",
            StoredEntry::TokenExpiry => "token_expiry",
            StoredEntry::ClientInfo => "client_info",
            StoredEntry::ServerMetadata => "authorization_server",
            StoredEntry::RefreshLease => "refresh",
        }
    }

    /// Its key for the server whose [`server_key`] is `server`.
    pub fn key(self, server: &str) -> String {
        format!("{server}/{}", self.suffix())
    }

    /// What it is, in a few words for people: `"client registration"`.
    pub fn describe(self) -> &'static str {
        match self {
            StoredEntry::Tokens => "tokens",
            StoredEntry::TokenExpiry => "token expiry",
            StoredEntry::ClientInfo => "client registration",
            StoredEntry::ServerMetadata => "server metadata",
            StoredEntry::RefreshLease => "refresh lease",
        }
    }
}

/// What is stored about a server's token, without the token itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TokenStatus {
    /// When the access token expires, in seconds since the Unix epoch; `None` when
    /// unknown (then it is used until the server refuses it).
    pub expires_at: Option<f64>,
    /// Whether a refresh token is stored, so the token can be renewed without a login.
    pub refreshable: bool,
    /// The scopes the token was granted, space-separated, when the server said.
    pub scope: Option<String>,
}

impl TokenStatus {
    /// Seconds left before expiry (negative once expired); `None` when unknown.
    pub fn seconds_left(&self) -> Option<f64> {
        self.expires_at.map(|at| at - now_secs())
    }
}

/// The store seen through oauth-core's layout.
#[derive(Clone)]
pub struct TokenCache {
    store: Arc<dyn AsyncKeyValue>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    /// The layout over `store` (the same store, encrypted or not, that the clients use).
    pub fn new(store: Arc<dyn AsyncKeyValue>) -> Self {
        TokenCache { store }
    }

    /// The [`server_key`]s of every server with stored tokens, sorted. Needs a store
    /// that lists keys; otherwise an `Unsupported` storage error.
    pub async fn servers(&self) -> Result<Vec<String>> {
        let mut keys = self.store.keys(Some(TOKEN_COLLECTION), None).await?;
        keys.sort();
        let suffix = format!("/{}", StoredEntry::Tokens.suffix());
        Ok(keys
            .iter()
            .filter_map(|key| key.strip_suffix(&suffix))
            .map(str::to_string)
            .collect())
    }

    /// What is stored about the token of `server` (a [`server_key`]); `None` without
    /// tokens. An entry the store cannot read (say, a wrong encryption key) is its error.
    pub async fn token_status(&self, server: &str) -> Result<Option<TokenStatus>> {
        let entry = StoredEntry::Tokens;
        let Some(tokens) = self
            .store
            .get(&entry.key(server), Some(entry.collection()))
            .await?
        else {
            return Ok(None);
        };
        let entry = StoredEntry::TokenExpiry;
        let expiry = self
            .store
            .get(&entry.key(server), Some(entry.collection()))
            .await?;
        Ok(Some(TokenStatus {
            expires_at: expiry.and_then(|e| e.get("expires_at").and_then(Value::as_f64)),
            refreshable: str_field(&tokens, "refresh_token").is_some_and(|t| !t.is_empty()),
            scope: str_field(&tokens, "scope").map(str::to_string),
        }))
    }

    /// Which of `entries` are stored for `server` (a [`server_key`]). An entry that
    /// cannot be read (written with another encryption key, say) counts as stored.
    pub async fn present(&self, server: &str, entries: &[StoredEntry]) -> Vec<StoredEntry> {
        let mut present = Vec::new();
        for entry in entries {
            let there = self
                .store
                .get(&entry.key(server), Some(entry.collection()))
                .await
                .map_or(true, |found| found.is_some());
            if there {
                present.push(*entry);
            }
        }
        present
    }

    /// Removes `entries` of `server` (a [`server_key`]). Removing needs no decryption,
    /// so this works on a store opened without its encryption key too.
    pub async fn remove(&self, server: &str, entries: &[StoredEntry]) -> Result<()> {
        for entry in entries {
            self.store
                .delete(&entry.key(server), Some(entry.collection()))
                .await?;
        }
        Ok(())
    }
}
