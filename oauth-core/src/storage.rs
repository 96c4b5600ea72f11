//! Tokens, client registration and server metadata in a key-value store, in the
//! layout FastMCP uses (so a Python and a Rust client can share one store).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, JsonObject};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::error::Result;
use crate::http::{str_field, str_list};
pub(crate) use crate::layout::now_secs;
use crate::layout::{
    CLIENT_COLLECTION, EXPIRY_COLLECTION, LEASE_COLLECTION, METADATA_COLLECTION, StoredEntry,
    TOKEN_COLLECTION,
};

/// How long stored tokens live, as FastMCP stores them.
pub(crate) const ENTRY_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long a refresh lease lives if its holder never releases it (it crashed): longer
/// than a refresh can take (one token request, bounded by the HTTP timeout, plus
/// discovery when no metadata is stored), so that it never expires under a live holder.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(90);
/// Renew this long before expiry when the token's lifetime is unknown.
const DEFAULT_RENEWAL_MARGIN_SECS: f64 = 30.0;
/// The renewal margin as a share of the token's lifetime, and its upper bound.
const RENEWAL_MARGIN_SHARE: f64 = 0.1;
const MAX_RENEWAL_MARGIN_SECS: f64 = 60.0;

/// A token response, held with its absolute expiry.
#[derive(Clone)]
pub(crate) struct Tokens {
    pub(crate) access_token: SecretString,
    pub(crate) token_type: String,
    pub(crate) expires_in: Option<u64>,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_token: Option<SecretString>,
    /// Absolute expiry, seconds since the epoch.
    pub(crate) expires_at: Option<f64>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Tokens {
    /// Parses a token endpoint response (or a stored one). `None` when it has no
    /// usable `access_token`.
    pub(crate) fn from_response(map: &JsonObject, received_at: f64) -> Option<Tokens> {
        let access_token = str_field(map, "access_token").filter(|t| !t.is_empty())?;
        let expires_in = map.get("expires_in").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        Some(Tokens {
            access_token: SecretString::from(access_token.to_string()),
            token_type: str_field(map, "token_type").unwrap_or("Bearer").to_string(),
            expires_in,
            scope: str_field(map, "scope").map(str::to_string),
            refresh_token: str_field(map, "refresh_token")
                .filter(|t| !t.is_empty())
                .map(|t| SecretString::from(t.to_string())),
            expires_at: expires_in.map(|s| received_at + s as f64),
        })
    }

    /// Whether the access token is still good for at least `margin` seconds.
    pub(crate) fn is_fresh(&self, margin: f64) -> bool {
        match self.expires_at {
            Some(at) => now_secs() + margin < at,
            None => true,
        }
    }

    /// How long before expiry to renew, in seconds: a tenth of the token's lifetime
    /// (`expires_in`), at most a minute, so that a 5-second token is renewed in its last
    /// half second rather than on every use; 30 s when the lifetime is unknown.
    pub(crate) fn renewal_margin(&self) -> f64 {
        match self.expires_in {
            Some(lifetime) => (lifetime as f64 * RENEWAL_MARGIN_SHARE).min(MAX_RENEWAL_MARGIN_SECS),
            None => DEFAULT_RENEWAL_MARGIN_SECS,
        }
    }

    /// Whether the token is good beyond its renewal margin (no renewal needed yet).
    pub(crate) fn is_current(&self) -> bool {
        self.is_fresh(self.renewal_margin())
    }

    /// Whether `other` holds the same refresh token (both none counts as the same).
    pub(crate) fn same_refresh_token(&self, other: &Tokens) -> bool {
        match (&self.refresh_token, &other.refresh_token) {
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            (None, None) => true,
            _ => false,
        }
    }

    /// Whether `other` holds the same access token.
    pub(crate) fn same_access_token(&self, other: &Tokens) -> bool {
        self.access_token.expose_secret() == other.access_token.expose_secret()
    }

    /// The scopes the token holds, as far as we know.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn to_object(&self) -> JsonObject {
        let mut map = JsonObject::new();
        map.insert(
            "access_token".into(),
            json!(self.access_token.expose_secret()),
        );
        map.insert("token_type".into(), json!(self.token_type));
        if let Some(expires_in) = self.expires_in {
            map.insert("expires_in".into(), json!(expires_in));
        }
        if let Some(scope) = &self.scope {
            map.insert("scope".into(), json!(scope));
        }
        if let Some(refresh) = &self.refresh_token {
            map.insert("refresh_token".into(), json!(refresh.expose_secret()));
        }
        map
    }
}

/// A client registration (RFC 7591 response), bound to the issuer it came from.
#[derive(Clone)]
pub(crate) struct ClientInfo {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) token_endpoint_auth_method: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) issuer: Option<String>,
    /// A login with this stored registration failed (field [`FAILED_LOGIN_FIELD`]):
    /// the next authorization registers anew.
    pub(crate) login_failed: bool,
    /// Every field as the server returned it (secrets included), for storage.
    pub(crate) raw: JsonObject,
}

/// The field of a stored registration that marks it after a failed login with it: the
/// time of the failure, in seconds since the Unix epoch. Ours, not RFC 7591's; FastMCP
/// ignores fields it does not know, and a registration it writes has none.
pub(crate) const FAILED_LOGIN_FIELD: &str = "oauth_core_failed_login_at";

impl fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInfo")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl ClientInfo {
    /// Parses a registration response or a stored registration.
    pub(crate) fn from_object(raw: JsonObject) -> Option<ClientInfo> {
        let client_id = str_field(&raw, "client_id")
            .filter(|s| !s.is_empty())?
            .to_string();
        Some(ClientInfo {
            client_id,
            client_secret: str_field(&raw, "client_secret")
                .filter(|s| !s.is_empty())
                .map(|s| SecretString::from(s.to_string())),
            token_endpoint_auth_method: str_field(&raw, "token_endpoint_auth_method")
                .map(str::to_string),
            redirect_uris: str_list(&raw, "redirect_uris").unwrap_or_default(),
            issuer: str_field(&raw, "issuer").map(str::to_string),
            login_failed: raw.get(FAILED_LOGIN_FIELD).is_some_and(|v| !v.is_null()),
            raw,
        })
    }
}

/// A refresh lease held by this process.
#[derive(Debug)]
pub(crate) struct Lease {
    holder: String,
    taken_at: std::time::Instant,
}

/// A name for this lease holder, unique among processes and machines: the process ID
/// and 128 random bits (oauth2's random generator, the one behind PKCE and `state`).
fn lease_holder() -> String {
    let random = oauth2::CsrfToken::new_random();
    format!("{}-{}", std::process::id(), random.secret())
}

/// Stored authorization server metadata for one MCP server.
#[derive(Clone, Debug)]
pub(crate) struct StoredServer {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) metadata: JsonObject,
}

/// The key-value store, with the key layout.
#[derive(Clone)]
pub(crate) struct Storage {
    store: Arc<dyn AsyncKeyValue>,
    prefix: String,
}

impl Storage {
    pub(crate) fn new(store: Arc<dyn AsyncKeyValue>, server_key: &str) -> Self {
        Storage {
            store,
            prefix: server_key.to_string(),
        }
    }

    fn key(&self, entry: StoredEntry) -> String {
        entry.key(&self.prefix)
    }

    /// The stored tokens, with their absolute expiry; unreadable entries count as none.
    ///
    /// The tokens and their expiry are two entries (FastMCP's layout), so a reader can
    /// meet a writer between them. The token entry is read again after the expiry and
    /// the pair taken only when the token did not change in between; since writers
    /// store the tokens before the expiry ([`Storage::save_tokens`]), an expiry read
    /// between two equal token reads is that token's or an older one, so a torn pair
    /// can only look expired, never fresher than it is.
    pub(crate) async fn load_tokens(&self) -> Result<Option<Tokens>> {
        const ATTEMPTS: usize = 5;
        let mut tokens = self.read_token_entry().await?;
        for _ in 0..ATTEMPTS {
            let Some(mut current) = tokens else {
                return Ok(None);
            };
            let expiry = self
                .store
                .get(&self.key(StoredEntry::TokenExpiry), Some(EXPIRY_COLLECTION))
                .await?;
            // Only the absolute expiry counts: a relative `expires_in` says nothing
            // about when the token was issued.
            current.expires_at = expiry.and_then(|e| e.get("expires_at").and_then(Value::as_f64));
            let again = self.read_token_entry().await?;
            match again {
                Some(again) if again.same_access_token(&current) => return Ok(Some(current)),
                other => tokens = other,
            }
        }
        // Rewritten all the time: take the newest tokens with no known expiry, which
        // makes the caller renew them.
        Ok(tokens.map(|t| Tokens {
            expires_at: Some(0.0),
            ..t
        }))
    }

    async fn read_token_entry(&self) -> Result<Option<Tokens>> {
        let Some(map) = self
            .store
            .get(&self.key(StoredEntry::Tokens), Some(TOKEN_COLLECTION))
            .await?
        else {
            return Ok(None);
        };
        let tokens = Tokens::from_response(&map, 0.0);
        if tokens.is_none() {
            tracing::warn!("ignoring a stored token entry without an access token");
        }
        Ok(tokens)
    }

    /// Saves tokens and their absolute expiry (the expiry entry is removed when unknown).
    ///
    /// The tokens are written first: a reader between the two writes sees the new
    /// tokens with the old expiry, which can only make it renew early (and find the new
    /// pair when it reads again under the lease), never hand out an old token as if it
    /// had the new expiry. [`Storage::load_tokens`] relies on this order.
    pub(crate) async fn save_tokens(&self, tokens: &Tokens) -> Result<()> {
        self.store
            .put(
                &self.key(StoredEntry::Tokens),
                tokens.to_object(),
                Some(ENTRY_TTL),
                Some(TOKEN_COLLECTION),
            )
            .await?;
        match tokens.expires_at {
            Some(at) => {
                let mut expiry = JsonObject::new();
                expiry.insert("expires_at".into(), json!(at));
                self.store
                    .put(
                        &self.key(StoredEntry::TokenExpiry),
                        expiry,
                        Some(ENTRY_TTL),
                        Some(EXPIRY_COLLECTION),
                    )
                    .await?;
            }
            None => {
                self.store
                    .delete(&self.key(StoredEntry::TokenExpiry), Some(EXPIRY_COLLECTION))
                    .await?;
            }
        }
        Ok(())
    }

    /// Removes the stored tokens.
    pub(crate) async fn clear_tokens(&self) -> Result<()> {
        self.store
            .delete(&self.key(StoredEntry::Tokens), Some(TOKEN_COLLECTION))
            .await?;
        self.store
            .delete(&self.key(StoredEntry::TokenExpiry), Some(EXPIRY_COLLECTION))
            .await?;
        Ok(())
    }

    /// The stored client registration; unreadable entries count as none.
    pub(crate) async fn load_client(&self) -> Result<Option<ClientInfo>> {
        Ok(self
            .store
            .get(&self.key(StoredEntry::ClientInfo), Some(CLIENT_COLLECTION))
            .await?
            .and_then(ClientInfo::from_object))
    }

    /// Saves a client registration as FastMCP does: without expiry, unless the
    /// registration says when its secret expires (`client_secret_expires_at`, RFC 7591
    /// §3.2.1, seconds since the epoch; 0 means never).
    pub(crate) async fn save_client(&self, client: &ClientInfo) -> Result<()> {
        let ttl = client
            .raw
            .get("client_secret_expires_at")
            .and_then(Value::as_f64)
            .filter(|at| *at > 0.0)
            .map(|at| Duration::from_secs_f64((at - now_secs()).max(1.0)));
        self.store
            .put(
                &self.key(StoredEntry::ClientInfo),
                client.raw.clone(),
                ttl,
                Some(CLIENT_COLLECTION),
            )
            .await
            .map_err(Into::into)
    }

    /// Whether the store can elect one refresher among processes
    /// ([`Capabilities::put_if_absent`](key_value_core::Capabilities::put_if_absent)).
    pub(crate) fn has_leases(&self) -> bool {
        self.store.capabilities().put_if_absent
    }

    /// Takes the refresh lease of this server if no one holds it; `None` when another
    /// process (or client) does.
    pub(crate) async fn take_lease(&self) -> Result<Option<Lease>> {
        let holder = lease_holder();
        let mut value = JsonObject::new();
        value.insert("holder".into(), json!(holder));
        value.insert("pid".into(), json!(std::process::id()));
        let taken_at = std::time::Instant::now();
        let won = self
            .store
            .put_if_absent(
                &self.key(StoredEntry::RefreshLease),
                value,
                Some(LEASE_TTL),
                Some(LEASE_COLLECTION),
            )
            .await?;
        Ok(won.then_some(Lease { holder, taken_at }))
    }

    /// Releases a lease taken with [`Storage::take_lease`], so that the next renewal
    /// need not wait for it to expire. Only a lease still within its lifetime is
    /// deleted, and only if it is still ours: once expired, another process may hold
    /// the key. Failing to release is logged, not returned: the lease expires anyway.
    pub(crate) async fn release_lease(&self, lease: Lease) {
        // A margin for the clock of a server that expires the lease (Redis, DynamoDB).
        if lease.taken_at.elapsed() + Duration::from_secs(5) >= LEASE_TTL {
            return;
        }
        let key = self.key(StoredEntry::RefreshLease);
        let ours = match self.store.get(&key, Some(LEASE_COLLECTION)).await {
            Ok(found) => found.is_some_and(|v| str_field(&v, "holder") == Some(&lease.holder)),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the refresh lease to release it");
                return;
            }
        };
        if ours && let Err(e) = self.store.delete(&key, Some(LEASE_COLLECTION)).await {
            tracing::warn!(error = %e, "could not release the refresh lease; it expires on its own");
        }
    }

    /// Removes the stored client registration.
    /// Marks the stored registration with [`FAILED_LOGIN_FIELD`], if it is still the
    /// one with `client_id` (another process may have stored a new one meanwhile).
    pub(crate) async fn mark_client_failed(&self, client_id: &str) -> Result<()> {
        let Some(mut client) = self.load_client().await? else {
            return Ok(());
        };
        if client.client_id != client_id {
            return Ok(());
        }
        client
            .raw
            .insert(FAILED_LOGIN_FIELD.into(), json!(now_secs()));
        self.save_client(&client).await
    }

    pub(crate) async fn clear_client(&self) -> Result<()> {
        self.store
            .delete(&self.key(StoredEntry::ClientInfo), Some(CLIENT_COLLECTION))
            .await?;
        Ok(())
    }

    /// The stored authorization server metadata.
    pub(crate) async fn load_server(&self) -> Result<Option<StoredServer>> {
        let Some(map) = self
            .store
            .get(
                &self.key(StoredEntry::ServerMetadata),
                Some(METADATA_COLLECTION),
            )
            .await?
        else {
            return Ok(None);
        };
        let issuer = str_field(&map, "issuer").map(str::to_string);
        let resource = str_field(&map, "resource").map(str::to_string);
        let metadata = map.get("metadata").and_then(Value::as_object).cloned();
        Ok(match (issuer, resource, metadata) {
            (Some(issuer), Some(resource), Some(metadata)) => Some(StoredServer {
                issuer,
                resource,
                metadata,
            }),
            _ => None,
        })
    }

    /// Saves the authorization server metadata.
    pub(crate) async fn save_server(&self, server: &StoredServer) -> Result<()> {
        let mut map = JsonObject::new();
        map.insert("issuer".into(), json!(server.issuer));
        map.insert("resource".into(), json!(server.resource));
        map.insert("metadata".into(), Value::Object(server.metadata.clone()));
        self.store
            .put(
                &self.key(StoredEntry::ServerMetadata),
                map,
                Some(ENTRY_TTL),
                Some(METADATA_COLLECTION),
            )
            .await
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_memory::MemoryStore;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn reads_the_minimal_fastmcp_shape() {
        let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
        let server = "https://mcp.example.com/mcp";
        store
            .put(
                &format!("{server}/tokens"),
                obj(json!({"access_token": "a", "token_type": "bearer", "expires_in": 60})),
                None,
                Some(TOKEN_COLLECTION),
            )
            .await
            .unwrap();
        store
            .put(
                &format!("{server}/token_expiry"),
                obj(json!({"expires_at": 4_000_000_000u64})),
                None,
                Some(EXPIRY_COLLECTION),
            )
            .await
            .unwrap();
        store
            .put(
                &format!("{server}/client_info"),
                obj(
                    json!({"client_id": "c", "redirect_uris": ["http://localhost:9/callback"],
                           "token_endpoint_auth_method": "none"}),
                ),
                None,
                Some(CLIENT_COLLECTION),
            )
            .await
            .unwrap();
        let storage = Storage::new(store, server);
        let tokens = storage.load_tokens().await.unwrap().unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "a");
        assert_eq!(tokens.expires_at, Some(4_000_000_000.0));
        assert!(tokens.is_fresh(30.0));
        let client = storage.load_client().await.unwrap().unwrap();
        assert_eq!(client.client_id, "c");
        assert_eq!(client.issuer, None);
    }

    #[tokio::test]
    async fn saves_the_full_shape_with_an_absolute_expiry() {
        let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
        let storage = Storage::new(store.clone(), "https://s");
        let fresh = Tokens::from_response(
            &obj(json!({"access_token": "a", "token_type": "Bearer", "expires_in": 10, "refresh_token": "r"})),
            now_secs(),
        )
        .unwrap();
        storage.save_tokens(&fresh).await.unwrap();
        let stored = store
            .get("https://s/tokens", Some(TOKEN_COLLECTION))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored["refresh_token"], "r");
        assert!(stored.get("expires_at").is_none());
        let expiry = store
            .get("https://s/token_expiry", Some(EXPIRY_COLLECTION))
            .await
            .unwrap()
            .unwrap();
        assert!(expiry["expires_at"].as_f64().unwrap() > now_secs());
        assert!(format!("{fresh:?}").contains("[redacted]"));
        assert!(!format!("{fresh:?}").contains("\"r\""));
    }

    #[tokio::test]
    async fn garbage_entries_count_as_none() {
        let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
        store
            .put(
                "s/tokens",
                obj(json!({"access_token": 5})),
                None,
                Some(TOKEN_COLLECTION),
            )
            .await
            .unwrap();
        store
            .put(
                "s/client_info",
                obj(json!({"nope": true})),
                None,
                Some(CLIENT_COLLECTION),
            )
            .await
            .unwrap();
        let storage = Storage::new(store, "s");
        assert!(storage.load_tokens().await.unwrap().is_none());
        assert!(storage.load_client().await.unwrap().is_none());
        assert!(storage.load_server().await.unwrap().is_none());
    }
}
