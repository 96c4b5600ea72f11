//! rmcp's own OAuth flow (`AuthorizationManager`, `AuthorizationSession`, `AuthClient`)
//! persisted through `KeyValueCredentialStore`/`KeyValueStateStore` in an SQLite file,
//! against the in-process demo server; then oauth-core and a restarted rmcp client use
//! the same login from the store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use key_value_core::AsyncKeyValue;
use key_value_sqlite::SqliteStore;
use mcp_demo_server::DemoServer;
use oauth_core::layout::StoredEntry;
use oauth_core::{BrowserMode, ExposeSecret, OAuth};
use oauth_core_rmcp::store::STATE_COLLECTION;
use oauth_core_rmcp::{KeyValueCredentialStore, KeyValueStateStore};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationManager, AuthorizationRequest};
use rmcp::transport::auth::{AuthorizationSession, CredentialStore};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

async fn manager(url: &str, store: &Arc<dyn AsyncKeyValue>) -> AuthorizationManager {
    let mut manager = AuthorizationManager::new_allowing_private_addresses(url)
        .await
        .unwrap();
    manager.set_credential_store(
        KeyValueCredentialStore::new(store.clone(), url)
            .unwrap()
            .with_redirect_uri(REDIRECT_URI),
    );
    manager.set_state_store(KeyValueStateStore::new(store.clone()));
    manager
}

/// rmcp's flow: discovery, dynamic registration, PKCE, and the code exchange with the
/// code from the demo server's redirect (it approves at once).
async fn rmcp_login(url: &str, store: &Arc<dyn AsyncKeyValue>) -> AuthorizationSession {
    // rmcp's flow: discovery, dynamic registration, PKCE, code exchange.
    let mut first = manager(url, store).await;
    let metadata = first.resolve_metadata().await.unwrap().metadata;
    first.set_metadata(metadata);
    let request = AuthorizationRequest::new(REDIRECT_URI)
        .with_scopes(["mcp:tools", "offline_access"])
        .with_client_name("oauth-core-rmcp flow test");
    let session = AuthorizationSession::new(first, request)
        .await
        .map_err(|(_, e)| e)
        .unwrap();
    // The PKCE state waits in the store, under a hashed key.
    let pending = store.keys(Some(STATE_COLLECTION), None).await.unwrap();
    assert_eq!(pending.len(), 1);
    // The demo server approves at once: its redirect carries the code.
    let http = oauth_core::http_client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .get(session.get_authorization_url())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT_URI));
    session.handle_callback_url(&location).await.unwrap();
    session
}

/// Counts refresh leases taken; everything else passes through.
struct CountLeases {
    inner: Arc<dyn AsyncKeyValue>,
    taken: std::sync::atomic::AtomicUsize,
}

#[key_value_core::async_trait]
impl AsyncKeyValue for CountLeases {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&*self.inner)
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: key_value_core::JsonObject,
        ttl: Option<std::time::Duration>,
        collection: Option<&str>,
    ) -> key_value_core::Result<bool> {
        let won = self
            .inner
            .put_if_absent(key, value, ttl, collection)
            .await?;
        if won && collection == Some(oauth_core::LEASE_COLLECTION) {
            self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(won)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcps_flow_persists_in_fastmcps_layout_and_oauth_core_reuses_the_login() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let server = DemoServer::builder()
        .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
        .start()
        .await
        .unwrap();
    let logins = || {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains("exchanged a code"))
            .count()
    };
    let url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn AsyncKeyValue> = Arc::new(
        SqliteStore::open(dir.path().join("tokens.db"))
            .await
            .unwrap(),
    );

    let session = rmcp_login(&url, &store).await;
    assert_eq!(logins(), 1);
    let left = store.keys(Some(STATE_COLLECTION), None).await.unwrap();
    assert!(left.is_empty(), "the state is consumed by the exchange");
    let rmcp_token = session.auth_manager.get_access_token().await.unwrap();

    // In the store, where FastMCP and oauth-core look.
    let server_key = url.trim_end_matches('/');
    let get = |entry: StoredEntry| {
        let store = store.clone();
        let key = entry.key(server_key);
        async move { store.get(&key, Some(entry.collection())).await.unwrap() }
    };
    let tokens = get(StoredEntry::Tokens).await.unwrap();
    assert_eq!(tokens["access_token"].as_str(), Some(rmcp_token.as_str()));
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        tokens["scope"]
            .as_str()
            .is_some_and(|s| s.contains("mcp:tools"))
    );
    let expiry = get(StoredEntry::TokenExpiry).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let expires_at = expiry["expires_at"].as_f64().unwrap();
    assert!(expires_at > now + 3000.0 && expires_at < now + 3700.0);
    let client = get(StoredEntry::ClientInfo).await.unwrap();
    assert!(client["client_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(client["issuer"].as_str(), Some(server.issuer()));
    assert_eq!(client["redirect_uris"], serde_json::json!([REDIRECT_URI]));

    // oauth-core on the same store: the same token, no login of its own.
    let oauth = OAuth::builder(&url)
        .token_storage(store.clone())
        .browser(BrowserMode::FetchRedirect)
        .build()
        .unwrap();
    let shared = oauth.cached_token().await.unwrap().expect("rmcp's login");
    assert_eq!(shared.expose_secret(), rmcp_token);
    let client = ().serve(oauth_core_rmcp::transport(oauth).unwrap()).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 2);
    client.cancel().await.unwrap();
    assert_eq!(logins(), 1);

    // A restarted rmcp client logs in from the store and talks MCP with rmcp's AuthClient.
    let mut restarted = manager(&url, &store).await;
    assert!(restarted.initialize_from_store().await.unwrap());
    let credentials = KeyValueCredentialStore::new(store.clone(), &url).unwrap();
    let loaded = credentials.load().await.unwrap().unwrap();
    assert!(loaded.token_received_at.is_some());
    let auth_client = AuthClient::new(
        oauth_core::http_client_builder().unwrap().build().unwrap(),
        restarted,
    );
    let transport = StreamableHttpClientTransport::with_client(
        auth_client,
        StreamableHttpClientTransportConfig::with_uri(url.clone()),
    );
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "whoami"));
    client.cancel().await.unwrap();
    assert_eq!(logins(), 1, "no login after the restart");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcps_refresh_takes_the_shared_lease_and_stores_the_new_token_for_oauth_core() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let server = DemoServer::builder()
        // rmcp renews once fewer than min(30 s, lifetime / 2) seconds remain, counting
        // whole seconds: 5–6 s in. Connecting and listing the tools must end before
        // that, on a loaded machine too, or rmcp renews twice.
        .access_token_lifetime(std::time::Duration::from_secs(10))
        .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
        .start()
        .await
        .unwrap();
    let count = |needle: &str| {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains(needle))
            .count()
    };
    let url = server.mcp_url().to_string();
    let server_key = url.trim_end_matches('/').to_string();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn AsyncKeyValue> = Arc::new(
        SqliteStore::open(dir.path().join("tokens.db"))
            .await
            .unwrap(),
    );
    let counting = Arc::new(CountLeases {
        inner: store.clone(),
        taken: Default::default(),
    });
    let leases = counting.clone();
    let store: Arc<dyn AsyncKeyValue> = counting;
    let session = rmcp_login(&url, &store).await;
    let first = session.auth_manager.get_access_token().await.unwrap();

    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(
            oauth_core::http_client_builder().unwrap().build().unwrap(),
            session.auth_manager,
        ),
        StreamableHttpClientTransportConfig::with_uri(url.clone()),
    );
    let client = ().serve(transport).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 2);
    // Fewer than five whole seconds left: rmcp refreshes before its next request.
    tokio::time::sleep(std::time::Duration::from_millis(6200)).await;
    let whoami = client
        .call_tool(rmcp::model::CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert_ne!(whoami.is_error, Some(true));
    assert_eq!(count("refreshed"), 1, "one refresh");
    assert_eq!(count("exchanged a code"), 1, "no second login");
    assert_eq!(
        leases.taken.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "rmcp refreshed under oauth-core's lease"
    );
    client.cancel().await.unwrap();

    // The lease was released after the refresh, and the new token is where oauth-core
    // reads it, with its absolute expiry.
    let lease_key = StoredEntry::RefreshLease.key(&server_key);
    let lease_collection = Some(StoredEntry::RefreshLease.collection());
    let mut released = false;
    for _ in 0..40 {
        if store
            .get(&lease_key, lease_collection)
            .await
            .unwrap()
            .is_none()
        {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(released, "the lease is released");
    let oauth = OAuth::builder(&url)
        .token_storage(store.clone())
        .browser(BrowserMode::FetchRedirect)
        .build()
        .unwrap();
    let shared = oauth.cached_token().await.unwrap().expect("rmcp's token");
    assert_ne!(
        shared.expose_secret(),
        first,
        "the refreshed token, not the first"
    );
    assert_eq!(count("refreshed"), 1, "oauth-core took it as fresh");
    server.shutdown().await;
}
