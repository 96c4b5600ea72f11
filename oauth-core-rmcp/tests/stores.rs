//! rmcp's `CredentialStore` and `StateStore` over real stores (memory and SQLite): round
//! trips, and what lands in the store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_memory::MemoryStore;
use key_value_sqlite::SqliteStore;
use oauth_core::layout::StoredEntry;
use oauth_core_rmcp::store::STATE_COLLECTION;
use oauth_core_rmcp::{KeyValueCredentialStore, KeyValueStateStore};
use rmcp::transport::auth::{
    CredentialStore, OAuthTokenResponse, StateStore, StoredAuthorizationState, StoredCredentials,
};
use serde_json::{Value, json};

const SERVER: &str = "https://mcp.example.com/mcp";

fn object(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

fn token(value: Value) -> OAuthTokenResponse {
    serde_json::from_value(value).unwrap()
}

fn access_token(credentials: &StoredCredentials) -> String {
    let json = serde_json::to_value(credentials.token_response.as_ref().unwrap()).unwrap();
    json["access_token"].as_str().unwrap().to_string()
}

async fn raw(store: &Arc<dyn AsyncKeyValue>, entry: StoredEntry) -> Option<JsonObject> {
    store
        .get(&entry.key(SERVER), Some(entry.collection()))
        .await
        .unwrap()
}

/// Runs every check of this file on one store (fresh for each call).
macro_rules! on_each_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(dir.path().join("tokens.db")).await.unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

on_each_store!(
    credentials_round_trip_in_fastmcps_layout,
    a_token_without_scope_is_stored_with_the_granted_scopes,
    credentials_without_a_token_remove_the_stored_token,
    clear_removes_tokens_and_registration,
    a_registration_written_by_oauth_core_is_kept_whole,
    entries_in_fastmcps_own_shape_are_read,
    a_rejected_refresh_token_is_removed_only_if_still_stored,
    the_refresh_guard_is_oauth_cores_lease_and_excludes_a_second_holder,
    authorization_state_round_trip_under_a_hashed_key,
    authorization_state_expires,
);

async fn credentials_round_trip_in_fastmcps_layout(store: Arc<dyn AsyncKeyValue>) {
    // A trailing slash is not part of the key, as FastMCP writes it.
    let credentials = KeyValueCredentialStore::new(store.clone(), &format!("{SERVER}/")).unwrap();
    assert_eq!(credentials.server_key(), SERVER);
    assert!(credentials.load().await.unwrap().is_none());

    let received_at = 1_900_000_000;
    let saved = StoredCredentials::new(
        "client-1".into(),
        Some(token(json!({
            "access_token": "at-1", "token_type": "bearer", "expires_in": 3600,
            "refresh_token": "rt-1", "scope": "mcp:tools offline_access"
        }))),
        vec!["mcp:tools".into(), "offline_access".into()],
        Some(received_at),
    )
    .with_issuer(Some("https://auth.example.com".into()));
    credentials.save(saved).await.unwrap();

    // What lands in the store: FastMCP's three entries.
    let tokens = raw(&store, StoredEntry::Tokens).await.unwrap();
    assert_eq!(
        Value::Object(tokens),
        json!({"access_token": "at-1", "token_type": "bearer", "expires_in": 3600,
               "refresh_token": "rt-1", "scope": "mcp:tools offline_access"})
    );
    let expiry = raw(&store, StoredEntry::TokenExpiry).await.unwrap();
    assert_eq!(expiry["expires_at"].as_f64(), Some(1_900_003_600.0));
    let client = raw(&store, StoredEntry::ClientInfo).await.unwrap();
    assert_eq!(
        Value::Object(client),
        json!({"client_id": "client-1", "issuer": "https://auth.example.com"})
    );
    // Tokens live a year, as FastMCP stores them; the registration does not expire.
    let (_, ttl) = store
        .ttl(
            &StoredEntry::Tokens.key(SERVER),
            Some(StoredEntry::Tokens.collection()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(ttl.unwrap() > Duration::from_secs(364 * 24 * 3600));
    let (_, ttl) = store
        .ttl(
            &StoredEntry::ClientInfo.key(SERVER),
            Some(StoredEntry::ClientInfo.collection()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ttl, None);

    // And back.
    let loaded = credentials.load().await.unwrap().unwrap();
    assert_eq!(loaded.client_id, "client-1");
    assert_eq!(loaded.issuer.as_deref(), Some("https://auth.example.com"));
    assert_eq!(loaded.token_received_at, Some(received_at));
    assert_eq!(loaded.granted_scopes, ["mcp:tools", "offline_access"]);
    assert_eq!(access_token(&loaded), "at-1");
    let json = serde_json::to_value(loaded.token_response.as_ref().unwrap()).unwrap();
    assert_eq!(json["refresh_token"], "rt-1");
    assert_eq!(json["expires_in"], 3600);
    // rmcp's Debug of what we load hides the tokens.
    assert!(!format!("{loaded:?}").contains("at-1"));
}

async fn a_token_without_scope_is_stored_with_the_granted_scopes(store: Arc<dyn AsyncKeyValue>) {
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    credentials
        .save(StoredCredentials::new(
            "c".into(),
            Some(token(json!({"access_token": "a", "token_type": "bearer"}))),
            vec!["mcp:tools".into()],
            None,
        ))
        .await
        .unwrap();
    let tokens = raw(&store, StoredEntry::Tokens).await.unwrap();
    assert_eq!(tokens["scope"], "mcp:tools");
    // No lifetime, no expiry entry, no receipt time.
    assert!(raw(&store, StoredEntry::TokenExpiry).await.is_none());
    let loaded = credentials.load().await.unwrap().unwrap();
    assert_eq!(loaded.granted_scopes, ["mcp:tools"]);
    assert_eq!(loaded.token_received_at, None);
}

async fn credentials_without_a_token_remove_the_stored_token(store: Arc<dyn AsyncKeyValue>) {
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER)
        .unwrap()
        .with_redirect_uri("http://localhost:8765/callback");
    let with_token = StoredCredentials::new(
        "c".into(),
        Some(token(
            json!({"access_token": "a", "token_type": "bearer", "expires_in": 60}),
        )),
        vec![],
        Some(1),
    );
    credentials.save(with_token).await.unwrap();
    assert!(raw(&store, StoredEntry::TokenExpiry).await.is_some());
    credentials
        .save(StoredCredentials::new("c".into(), None, vec![], None))
        .await
        .unwrap();
    assert!(raw(&store, StoredEntry::Tokens).await.is_none());
    assert!(raw(&store, StoredEntry::TokenExpiry).await.is_none());
    let client = raw(&store, StoredEntry::ClientInfo).await.unwrap();
    assert_eq!(client["client_id"], "c");
    assert_eq!(
        client["redirect_uris"],
        json!(["http://localhost:8765/callback"])
    );
    let loaded = credentials.load().await.unwrap().unwrap();
    assert_eq!(loaded.client_id, "c");
    assert!(loaded.token_response.is_none());
}

async fn clear_removes_tokens_and_registration(store: Arc<dyn AsyncKeyValue>) {
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    let other = KeyValueCredentialStore::new(store.clone(), "https://other.example/mcp").unwrap();
    let saved = StoredCredentials::new(
        "c".into(),
        Some(token(
            json!({"access_token": "a", "token_type": "bearer", "expires_in": 60}),
        )),
        vec![],
        Some(1),
    );
    credentials.save(saved.clone()).await.unwrap();
    other.save(saved).await.unwrap();
    credentials.clear().await.unwrap();
    for entry in [
        StoredEntry::Tokens,
        StoredEntry::TokenExpiry,
        StoredEntry::ClientInfo,
    ] {
        assert!(raw(&store, entry).await.is_none(), "{entry:?} left");
    }
    assert!(credentials.load().await.unwrap().is_none());
    // Another server's credentials are untouched.
    assert_eq!(access_token(&other.load().await.unwrap().unwrap()), "a");
}

async fn a_registration_written_by_oauth_core_is_kept_whole(store: Arc<dyn AsyncKeyValue>) {
    let full = json!({
        "client_id": "c", "client_secret": "s3cret", "redirect_uris": ["http://localhost:1/callback"],
        "token_endpoint_auth_method": "client_secret_post", "client_name": "x"
    });
    store
        .put(
            &StoredEntry::ClientInfo.key(SERVER),
            object(full.clone()),
            None,
            Some(StoredEntry::ClientInfo.collection()),
        )
        .await
        .unwrap();
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    credentials
        .save(
            StoredCredentials::new(
                "c".into(),
                Some(token(json!({"access_token": "a", "token_type": "bearer"}))),
                vec![],
                None,
            )
            .with_issuer(Some("https://auth.example.com".into())),
        )
        .await
        .unwrap();
    let client = raw(&store, StoredEntry::ClientInfo).await.unwrap();
    let mut expected = object(full);
    expected.insert("issuer".into(), json!("https://auth.example.com"));
    assert_eq!(client, expected, "every field kept, the issuer added");

    // Another client's credentials replace the registration.
    credentials
        .save(StoredCredentials::new("d".into(), None, vec![], None))
        .await
        .unwrap();
    let client = raw(&store, StoredEntry::ClientInfo).await.unwrap();
    assert_eq!(Value::Object(client), json!({"client_id": "d"}));
}

async fn entries_in_fastmcps_own_shape_are_read(store: Arc<dyn AsyncKeyValue>) {
    // As FastMCP writes them: `Bearer`, a float absolute expiry, full client info.
    let put = |entry: StoredEntry, value: Value| {
        let store = store.clone();
        async move {
            store
                .put(
                    &entry.key(SERVER),
                    object(value),
                    None,
                    Some(entry.collection()),
                )
                .await
                .unwrap();
        }
    };
    put(
        StoredEntry::Tokens,
        json!({"access_token": "py-at", "token_type": "Bearer", "expires_in": 3600,
               "scope": "mcp:tools", "refresh_token": "py-rt"}),
    )
    .await;
    put(
        StoredEntry::TokenExpiry,
        json!({"expires_at": 1_900_003_600.75}),
    )
    .await;
    put(
        StoredEntry::ClientInfo,
        json!({"client_id": "py-client", "redirect_uris": ["http://localhost:9/callback"],
               "token_endpoint_auth_method": "none", "client_secret": null}),
    )
    .await;
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    let loaded = credentials.load().await.unwrap().unwrap();
    assert_eq!(loaded.client_id, "py-client");
    assert_eq!(loaded.issuer, None);
    assert_eq!(access_token(&loaded), "py-at");
    assert_eq!(loaded.token_received_at, Some(1_900_000_000));
    let json = serde_json::to_value(loaded.token_response.as_ref().unwrap()).unwrap();
    assert_eq!(json["token_type"], "bearer");

    // A token entry without an access token counts as none; the registration stays.
    put(StoredEntry::Tokens, json!({"token_type": "Bearer"})).await;
    let loaded = credentials.load().await.unwrap().unwrap();
    assert!(loaded.token_response.is_none());
}

async fn a_rejected_refresh_token_is_removed_only_if_still_stored(store: Arc<dyn AsyncKeyValue>) {
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    let old = StoredCredentials::new(
        "c".into(),
        Some(token(
            json!({"access_token": "a1", "token_type": "bearer", "refresh_token": "r1", "expires_in": 60}),
        )),
        vec![],
        Some(1),
    );
    let newer = StoredCredentials::new(
        "c".into(),
        Some(token(
            json!({"access_token": "a2", "token_type": "bearer", "refresh_token": "r2", "expires_in": 60}),
        )),
        vec![],
        Some(2),
    );
    // Another process stored newer tokens after `old` was read: they stay.
    credentials.save(newer).await.unwrap();
    credentials.on_refresh_token_rejected(&old).await.unwrap();
    assert_eq!(
        access_token(&credentials.load().await.unwrap().unwrap()),
        "a2"
    );
    // The rejected tokens themselves go, with their expiry; the registration stays.
    credentials.save(old.clone()).await.unwrap();
    credentials.on_refresh_token_rejected(&old).await.unwrap();
    assert!(raw(&store, StoredEntry::Tokens).await.is_none());
    assert!(raw(&store, StoredEntry::TokenExpiry).await.is_none());
    assert!(raw(&store, StoredEntry::ClientInfo).await.is_some());
}

async fn the_refresh_guard_is_oauth_cores_lease_and_excludes_a_second_holder(
    store: Arc<dyn AsyncKeyValue>,
) {
    let credentials = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    let first = credentials.acquire_refresh_guard().await.unwrap();
    assert!(first.is_some(), "these stores can elect a writer");
    let lease = raw(&store, StoredEntry::RefreshLease).await.unwrap();
    assert_eq!(lease["pid"], json!(std::process::id()));
    assert!(lease["holder"].as_str().is_some_and(|h| h.len() > 32));
    let (_, ttl) = store
        .ttl(
            &StoredEntry::RefreshLease.key(SERVER),
            Some(StoredEntry::RefreshLease.collection()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(ttl.unwrap() <= Duration::from_secs(90));

    // A second refresher (another process sharing the store) waits for the first.
    let second_store = KeyValueCredentialStore::new(store.clone(), SERVER).unwrap();
    let second = tokio::spawn(async move { second_store.acquire_refresh_guard().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the lease is held");
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("released on drop")
        .unwrap()
        .unwrap();
    assert!(second.is_some());
    let holder = raw(&store, StoredEntry::RefreshLease).await.unwrap()["holder"].clone();
    assert_ne!(holder, lease["holder"], "now held by the second");
}

fn state(csrf: &str, verifier: &str) -> StoredAuthorizationState {
    serde_json::from_value(json!({
        "pkce_verifier": verifier, "csrf_token": csrf,
        "expected_issuer": "https://auth.example.com", "require_issuer": true,
        "created_at": 1_900_000_000u64, "requested_scopes": ["mcp:tools"]
    }))
    .unwrap()
}

async fn authorization_state_round_trip_under_a_hashed_key(store: Arc<dyn AsyncKeyValue>) {
    let states = KeyValueStateStore::new(store.clone());
    let csrf = "csrf-value-1";
    assert!(states.load(csrf).await.unwrap().is_none());
    states.save(csrf, state(csrf, "verifier-1")).await.unwrap();
    states
        .save("csrf-value-2", state("csrf-value-2", "verifier-2"))
        .await
        .unwrap();

    let loaded = states.load(csrf).await.unwrap().unwrap();
    assert_eq!(loaded.pkce_verifier, "verifier-1");
    assert_eq!(
        loaded.expected_issuer.as_deref(),
        Some("https://auth.example.com")
    );
    assert!(loaded.require_issuer);
    assert_eq!(loaded.requested_scopes, ["mcp:tools"]);

    // Under the SHA-256 of the state, never the state itself, with the default TTL.
    let key = KeyValueStateStore::key_for(csrf);
    assert_eq!(
        key,
        "93bbc926ab6d8420d4f2b4715ef10659549f49acdab6b3216ef938b0f8a49432"
    );
    assert!(
        key.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(!key.contains(csrf));
    let (value, ttl) = store
        .ttl(&key, Some(STATE_COLLECTION))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value["pkce_verifier"], "verifier-1");
    let ttl = ttl.unwrap();
    assert!(ttl <= Duration::from_secs(600) && ttl > Duration::from_secs(590));

    states.delete(csrf).await.unwrap();
    assert!(states.load(csrf).await.unwrap().is_none());
    assert_eq!(
        states
            .load("csrf-value-2")
            .await
            .unwrap()
            .unwrap()
            .pkce_verifier,
        "verifier-2"
    );
}

async fn authorization_state_expires(store: Arc<dyn AsyncKeyValue>) {
    // The save and the load (each a synced SQLite write or read) must fit inside the
    // lifetime on a loaded machine too.
    let states = KeyValueStateStore::new(store.clone()).with_ttl(Duration::from_secs(3));
    states.save("s", state("s", "v")).await.unwrap();
    assert!(states.load("s").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(3300)).await;
    assert!(states.load("s").await.unwrap().is_none());
}
