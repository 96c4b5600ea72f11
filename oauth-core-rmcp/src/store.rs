//! rmcp's [`CredentialStore`] and [`StateStore`] over any store of the key-value family.
//!
//! # What lands in the store
//!
//! [`KeyValueCredentialStore`] keeps rmcp's [`StoredCredentials`] for one MCP server in the
//! layout FastMCP and oauth-core use ([`oauth_core::layout`]), so that rmcp, oauth-core and
//! FastMCP clients sharing a store share one login. `{server}` is the MCP endpoint URL
//! without a trailing `/` ([`oauth_core::layout::server_key`]).
//!
//! | collection | key | value |
//! |---|---|---|
//! | `mcp-oauth-token` | `{server}/tokens` | the token response (`access_token`, `token_type`, `expires_in`, `scope`, `refresh_token`, and any extra fields the server sent); one-year TTL |
//! | `mcp-oauth-token-expiry` | `{server}/token_expiry` | `{"expires_at": <seconds since the Unix epoch, float>}`: `token_received_at + expires_in`; one-year TTL; removed when the token has no `expires_in` |
//! | `mcp-oauth-client-info` | `{server}/client_info` | the registration: `client_id`, `issuer` (rmcp's issuer binding), and `redirect_uris` when given with [`KeyValueCredentialStore::with_redirect_uri`]; no TTL. A stored registration with the same `client_id` (written by oauth-core or FastMCP, with its secret and every RFC 7591 field) is kept as it is, with only `issuer` added |
//! | `oauth-core-refresh-lease` | `{server}/refresh` | the refresh lease (`holder`, `pid`), 90-second TTL: rmcp's refresh guard, shared with oauth-core so one process of a fleet refreshes at a time |
//!
//! How rmcp's fields map to it, and why:
//!
//! - `client_id`, `issuer`: the client registration entry, FastMCP's place for them
//!   (oauth-core binds registrations to the issuer through the same `issuer` field).
//! - `token_response`: the token entry, as the token endpoint returned it. When the
//!   response had no `scope`, the scopes rmcp recorded as granted are written as its
//!   `scope` (RFC 6749 §5.1: an omitted scope is the requested one), so that oauth-core
//!   and FastMCP know them too.
//! - `token_received_at`: not stored as such. FastMCP and oauth-core store the absolute
//!   expiry instead (a relative `expires_in` alone is meaningless after a restart), so it
//!   is written as `expires_at` and read back as `expires_at - expires_in`: a token that
//!   another program refreshed is then read with its own receipt time.
//! - `granted_scopes`: read back from the token's `scope`. A grant wider than the last
//!   access token (after a refresh that asked for fewer scopes) is not kept.
//!
//! [`KeyValueStateStore`] keeps the PKCE state of authorizations in progress in a
//! collection of its own, `oauth-core-rmcp-state`, under the SHA-256 (lower-case hex) of
//! the CSRF `state` value, so that the value itself never appears as a key (keys may be
//! logged by store layers); each entry expires after 10 minutes unless set otherwise.
//! The entry holds the PKCE verifier: use an encrypted store where others can read it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, JsonObject};
use oauth_core::LEASE_COLLECTION;
use oauth_core::layout::{StoredEntry, server_key};
use rmcp::transport::auth::{
    AuthError, CredentialRefreshGuard, CredentialStore, OAuthTokenResponse, StateStore,
    StoredAuthorizationState, StoredCredentials,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// The collection of [`KeyValueStateStore`] (ours; FastMCP keeps no such state).
pub const STATE_COLLECTION: &str = "oauth-core-rmcp-state";
/// How long a stored authorization state lives by default: 10 minutes.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);
/// How long token entries live, as FastMCP stores them: one year.
const ENTRY_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// The lifetime of a refresh lease whose holder never releases it (oauth-core's).
const LEASE_TTL: Duration = Duration::from_secs(90);
/// How often a waiting refresher tries the lease again.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// Reading the token/expiry pair again when a writer changed it in between.
const TORN_READ_ATTEMPTS: usize = 5;

fn store_error(what: &str, e: impl fmt::Display) -> AuthError {
    AuthError::CredentialStoreError(format!("{what}: {e}"))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn str_field<'a>(map: &'a JsonObject, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

/// rmcp's [`CredentialStore`] for one MCP server, over any store of the family, in
/// FastMCP's layout (see the [module docs](self) for the keys and values).
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use oauth_core_rmcp::KeyValueCredentialStore;
/// use rmcp::transport::auth::CredentialStore;
///
/// let store = Arc::new(key_value_memory::MemoryStore::new());
/// let credentials = KeyValueCredentialStore::new(store, "https://mcp.example.com/mcp")?;
/// assert!(credentials.load().await?.is_none());
/// // With rmcp: `authorization_manager.set_credential_store(credentials)`.
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KeyValueCredentialStore {
    store: Arc<dyn AsyncKeyValue>,
    server: String,
    redirect_uri: Option<String>,
}

impl fmt::Debug for KeyValueCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueCredentialStore")
            .field("server", &self.server)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl KeyValueCredentialStore {
    /// Credentials of the MCP server at `server_url` (the endpoint rmcp's
    /// `AuthorizationManager` was made for) in `store`.
    ///
    /// # Errors
    ///
    /// [`url::ParseError`] when `server_url` is not an absolute URL.
    pub fn new(store: Arc<dyn AsyncKeyValue>, server_url: &str) -> Result<Self, url::ParseError> {
        let url = Url::parse(server_url)?;
        Ok(KeyValueCredentialStore {
            store,
            server: server_key(&url),
            redirect_uri: None,
        })
    }

    /// The redirect URI the client was registered with, written as `redirect_uris` in a
    /// registration entry this store creates. FastMCP needs it to reuse the registration
    /// (rmcp's credentials do not carry it); without it FastMCP registers again.
    #[must_use]
    pub fn with_redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// The prefix of this server's keys: its URL without a trailing `/`.
    pub fn server_key(&self) -> &str {
        &self.server
    }

    fn key(&self, entry: StoredEntry) -> String {
        entry.key(&self.server)
    }

    async fn get(&self, entry: StoredEntry) -> Result<Option<JsonObject>, AuthError> {
        self.store
            .get(&self.key(entry), Some(entry.collection()))
            .await
            .map_err(|e| store_error(&format!("cannot read the {}", entry.describe()), e))
    }

    async fn put(
        &self,
        entry: StoredEntry,
        value: JsonObject,
        ttl: Option<Duration>,
    ) -> Result<(), AuthError> {
        self.store
            .put(&self.key(entry), value, ttl, Some(entry.collection()))
            .await
            .map_err(|e| store_error(&format!("cannot write the {}", entry.describe()), e))
    }

    async fn delete(&self, entry: StoredEntry) -> Result<(), AuthError> {
        self.store
            .delete(&self.key(entry), Some(entry.collection()))
            .await
            .map(|_| ())
            .map_err(|e| store_error(&format!("cannot delete the {}", entry.describe()), e))
    }

    /// The stored token and the absolute expiry stored with it, read so that a writer
    /// between the two reads cannot pair a token with another token's expiry (the
    /// writers store the token first, then its expiry).
    async fn load_tokens(&self) -> Result<Option<(OAuthTokenResponse, Option<f64>)>, AuthError> {
        let mut token = self.get(StoredEntry::Tokens).await?;
        for _ in 0..TORN_READ_ATTEMPTS {
            let Some(current) = token else {
                return Ok(None);
            };
            let expiry = self.get(StoredEntry::TokenExpiry).await?;
            let again = self.get(StoredEntry::Tokens).await?;
            let same = again.as_ref().is_some_and(|a| {
                str_field(a, "access_token") == str_field(&current, "access_token")
            });
            if same {
                let expires_at = expiry.and_then(|e| e.get("expires_at").and_then(Value::as_f64));
                return Ok(token_from_stored(current).map(|t| (t, expires_at)));
            }
            token = again;
        }
        // Rewritten all the time: the newest token with no known receipt time.
        Ok(token.and_then(token_from_stored).map(|t| (t, None)))
    }

    async fn save_registration(&self, credentials: &StoredCredentials) -> Result<(), AuthError> {
        let existing = self.get(StoredEntry::ClientInfo).await?;
        let mut info = match existing {
            Some(info) if str_field(&info, "client_id") == Some(credentials.client_id.as_str()) => {
                let same_issuer = match &credentials.issuer {
                    None => true,
                    Some(issuer) => str_field(&info, "issuer") == Some(issuer.as_str()),
                };
                if same_issuer {
                    return Ok(());
                }
                info
            }
            _ => {
                let mut info = JsonObject::new();
                info.insert("client_id".into(), json!(credentials.client_id));
                if let Some(uri) = &self.redirect_uri {
                    info.insert("redirect_uris".into(), json!([uri]));
                }
                info
            }
        };
        if let Some(issuer) = &credentials.issuer {
            info.insert("issuer".into(), json!(issuer));
        }
        self.put(StoredEntry::ClientInfo, info, None).await
    }
}

/// A stored token entry as rmcp's token response, read liberally (FastMCP's `Bearer`,
/// a float or string `expires_in`, empty refresh tokens); `None` without an access token.
fn token_from_stored(mut map: JsonObject) -> Option<OAuthTokenResponse> {
    if str_field(&map, "access_token").is_none_or(|t| t.is_empty()) {
        tracing::warn!("ignoring a stored token entry without an access token");
        return None;
    }
    let token_type = str_field(&map, "token_type")
        .map(|t| {
            if t.eq_ignore_ascii_case("bearer") {
                "bearer".to_string()
            } else {
                t.to_string()
            }
        })
        .unwrap_or_else(|| "bearer".to_string());
    map.insert("token_type".into(), json!(token_type));
    let expires_in = map.get("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    match expires_in {
        Some(seconds) => map.insert("expires_in".into(), json!(seconds)),
        None => map.remove("expires_in"),
    };
    for field in ["refresh_token", "scope"] {
        if str_field(&map, field).is_none_or(|t| t.is_empty()) {
            map.remove(field);
        }
    }
    match serde_json::from_value(Value::Object(map)) {
        Ok(token) => Some(token),
        Err(e) => {
            // Not the error itself: serde quotes the values it cannot take.
            tracing::warn!(kind = ?e.classify(), "ignoring a stored token entry rmcp cannot read");
            None
        }
    }
}

fn refresh_token_of(map: &JsonObject) -> Option<&str> {
    str_field(map, "refresh_token").filter(|t| !t.is_empty())
}

#[async_trait]
impl CredentialStore for KeyValueCredentialStore {
    /// The registration and tokens of this server; `None` without a registration
    /// (rmcp's credentials need a client ID). Unreadable token entries count as none.
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let Some(info) = self.get(StoredEntry::ClientInfo).await? else {
            return Ok(None);
        };
        let Some(client_id) = str_field(&info, "client_id").filter(|c| !c.is_empty()) else {
            tracing::warn!("ignoring a stored client registration without a client ID");
            return Ok(None);
        };
        let issuer = str_field(&info, "issuer").map(str::to_string);
        let (token, received_at, granted) = match self.load_tokens().await? {
            Some((token, expires_at)) => {
                let json = serde_json::to_value(&token).unwrap_or(Value::Null);
                let expires_in = json.get("expires_in").and_then(Value::as_u64);
                let received_at = match (expires_at, expires_in) {
                    (Some(at), Some(lifetime)) => Some((at - lifetime as f64).max(0.0) as u64),
                    _ => None,
                };
                let granted: Vec<String> = json
                    .get("scope")
                    .and_then(Value::as_str)
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                (Some(token), received_at, granted)
            }
            None => (None, None, Vec::new()),
        };
        Ok(Some(
            StoredCredentials::new(client_id.to_string(), token, granted, received_at)
                .with_issuer(issuer),
        ))
    }

    /// Writes the registration, then the token, then its absolute expiry (in that
    /// order: a reader meeting the writer in between sees a token that looks expired,
    /// never one that looks fresher than it is). Credentials without a token remove the
    /// stored token and expiry.
    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.save_registration(&credentials).await?;
        let Some(token) = &credentials.token_response else {
            self.delete(StoredEntry::Tokens).await?;
            return self.delete(StoredEntry::TokenExpiry).await;
        };
        let Value::Object(mut map) = serde_json::to_value(token)
            .map_err(|e| store_error("cannot encode the token response", e))?
        else {
            return Err(store_error(
                "cannot encode the token response",
                "not a JSON object",
            ));
        };
        map.retain(|_, v| !v.is_null());
        if !map.contains_key("scope") && !credentials.granted_scopes.is_empty() {
            map.insert("scope".into(), json!(credentials.granted_scopes.join(" ")));
        }
        let expires_in = map.get("expires_in").and_then(Value::as_u64);
        self.put(StoredEntry::Tokens, map, Some(ENTRY_TTL)).await?;
        match expires_in {
            Some(lifetime) => {
                let received = credentials
                    .token_received_at
                    .map(|at| at as f64)
                    .unwrap_or_else(now_secs);
                let mut expiry = JsonObject::new();
                expiry.insert("expires_at".into(), json!(received + lifetime as f64));
                self.put(StoredEntry::TokenExpiry, expiry, Some(ENTRY_TTL))
                    .await
            }
            None => self.delete(StoredEntry::TokenExpiry).await,
        }
    }

    /// Removes the tokens, their expiry and the registration of this server (rmcp clears
    /// credentials bound to an authorization server that is no longer the server's).
    async fn clear(&self) -> Result<(), AuthError> {
        self.delete(StoredEntry::Tokens).await?;
        self.delete(StoredEntry::TokenExpiry).await?;
        self.delete(StoredEntry::ClientInfo).await
    }

    /// Removes the stored token and expiry if they still hold the refresh token that was
    /// rejected; tokens another client stored since are left alone.
    async fn on_refresh_token_rejected(
        &self,
        credentials: &StoredCredentials,
    ) -> Result<(), AuthError> {
        let rejected = credentials
            .token_response
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| {
                v.as_object()
                    .and_then(|m| refresh_token_of(m).map(str::to_string))
            });
        let Some(stored) = self.get(StoredEntry::Tokens).await? else {
            return Ok(());
        };
        if refresh_token_of(&stored) == rejected.as_deref() {
            self.delete(StoredEntry::Tokens).await?;
            self.delete(StoredEntry::TokenExpiry).await?;
        }
        Ok(())
    }

    /// Takes oauth-core's refresh lease for this server (waiting while another process
    /// or an oauth-core client holds it), when the store can elect one writer
    /// (`put_if_absent`); `None` (no coordination) when it cannot. The lease is released
    /// when the guard is dropped, and expires on its own after 90 s otherwise.
    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        if !self.store.capabilities().put_if_absent {
            return Ok(None);
        }
        let key = self.key(StoredEntry::RefreshLease);
        let holder = lease_holder()?;
        let mut value = JsonObject::new();
        value.insert("holder".into(), json!(holder));
        value.insert("pid".into(), json!(std::process::id()));
        let waiting_since = Instant::now();
        loop {
            let won = self
                .store
                .put_if_absent(&key, value.clone(), Some(LEASE_TTL), Some(LEASE_COLLECTION))
                .await
                .map_err(|e| store_error("cannot take the refresh lease", e))?;
            if won {
                return Ok(Some(CredentialRefreshGuard::new(Lease {
                    store: self.store.clone(),
                    key,
                    holder,
                    taken_at: Instant::now(),
                })));
            }
            // A lease outlives no holder by more than its TTL; past that the store
            // does not expire entries, and waiting longer will not help.
            if waiting_since.elapsed() > LEASE_TTL + Duration::from_secs(10) {
                return Err(AuthError::CredentialStoreError(
                    "the refresh lease stayed taken longer than its lifetime (90 s)".into(),
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }
}

/// A name for this lease holder, unique among processes: the process ID and 128
/// random bits.
fn lease_holder() -> Result<String, AuthError> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)
        .map_err(|e| store_error("cannot draw random bytes for the lease", e))?;
    Ok(format!("{}-{}", std::process::id(), hex(&random)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A refresh lease held by this process; released (if still ours) when dropped.
struct Lease {
    store: Arc<dyn AsyncKeyValue>,
    key: String,
    holder: String,
    taken_at: Instant,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Once expired (with a margin for a server's clock) another process may hold it.
        if self.taken_at.elapsed() + Duration::from_secs(5) >= LEASE_TTL {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime to release it on: it expires on its own
        };
        let store = self.store.clone();
        let key = std::mem::take(&mut self.key);
        let holder = std::mem::take(&mut self.holder);
        runtime.spawn(async move {
            let ours = match store.get(&key, Some(LEASE_COLLECTION)).await {
                Ok(found) => found.is_some_and(|v| str_field(&v, "holder") == Some(&holder)),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the refresh lease to release it");
                    return;
                }
            };
            if ours && let Err(e) = store.delete(&key, Some(LEASE_COLLECTION)).await {
                tracing::warn!(error = %e, "could not release the refresh lease; it expires on its own");
            }
        });
    }
}

/// rmcp's [`StateStore`] (the PKCE verifier and CSRF state of authorizations in
/// progress) over any store of the family: collection [`STATE_COLLECTION`], key the
/// SHA-256 of the CSRF state in lower-case hex, value rmcp's state as JSON, expiring
/// after [`DEFAULT_STATE_TTL`] (or [`KeyValueStateStore::with_ttl`]).
///
/// A store shared by several processes lets one start an authorization and another
/// finish it (a callback handled by another instance behind a load balancer).
#[derive(Clone)]
pub struct KeyValueStateStore {
    store: Arc<dyn AsyncKeyValue>,
    ttl: Duration,
}

impl fmt::Debug for KeyValueStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueStateStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl KeyValueStateStore {
    /// States kept in `store`, each for [`DEFAULT_STATE_TTL`].
    pub fn new(store: Arc<dyn AsyncKeyValue>) -> Self {
        KeyValueStateStore {
            store,
            ttl: DEFAULT_STATE_TTL,
        }
    }

    /// How long a state is kept: the time a user has to finish logging in. At least
    /// one second.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The key a CSRF state is kept under: its SHA-256 in lower-case hex.
    pub fn key_for(csrf_token: &str) -> String {
        hex(&Sha256::digest(csrf_token.as_bytes()))
    }
}

#[async_trait]
impl StateStore for KeyValueStateStore {
    async fn save(
        &self,
        csrf_token: &str,
        state: StoredAuthorizationState,
    ) -> Result<(), AuthError> {
        let Value::Object(map) = serde_json::to_value(&state)
            .map_err(|e| store_error("cannot encode the authorization state", e))?
        else {
            return Err(store_error(
                "cannot encode the authorization state",
                "not a JSON object",
            ));
        };
        self.store
            .put(
                &Self::key_for(csrf_token),
                map,
                Some(self.ttl),
                Some(STATE_COLLECTION),
            )
            .await
            .map_err(|e| store_error("cannot write the authorization state", e))
    }

    /// The state saved for `csrf_token`; `None` when unknown, expired or unreadable.
    async fn load(&self, csrf_token: &str) -> Result<Option<StoredAuthorizationState>, AuthError> {
        let found = self
            .store
            .get(&Self::key_for(csrf_token), Some(STATE_COLLECTION))
            .await
            .map_err(|e| store_error("cannot read the authorization state", e))?;
        let Some(map) = found else {
            return Ok(None);
        };
        match serde_json::from_value::<StoredAuthorizationState>(Value::Object(map)) {
            Ok(state) if state.csrf_token == csrf_token => Ok(Some(state)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(kind = ?e.classify(), "ignoring an unreadable authorization state");
                Ok(None)
            }
        }
    }

    async fn delete(&self, csrf_token: &str) -> Result<(), AuthError> {
        self.store
            .delete(&Self::key_for(csrf_token), Some(STATE_COLLECTION))
            .await
            .map(|_| ())
            .map_err(|e| store_error("cannot delete the authorization state", e))
    }
}
