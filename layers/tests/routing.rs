//! The routing store: the conformance suite over memory stores (collections split
//! between two stores by a rule on their names), and which store each operation
//! reaches.

#![cfg(feature = "routing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_layers::routing::Routing;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

/// Collections whose name has an odd length go to a second store, the rest to the default.
async fn split_by_name() -> Routing {
    Routing::new(MemoryStore::new()).route_when(|name| name.len() % 2 == 1, MemoryStore::new())
}

key_value_conformance::suite!(split_by_name);

#[tokio::test]
async fn each_collection_reaches_its_store() {
    let default = Arc::new(MemoryStore::new());
    let sessions = Arc::new(MemoryStore::new());
    let cache = Arc::new(MemoryStore::new());
    let store = Routing::new(default.clone())
        .route("sessions", sessions.clone())
        .route_when(|c| c.starts_with("cache-"), cache.clone());
    for c in ["sessions", "cache-1", "users"] {
        store
            .put("k", obj(json!({"c": c})), None, Some(c))
            .await
            .unwrap();
    }
    store
        .put("k", obj(json!({"c": "none"})), None, None)
        .await
        .unwrap();
    assert_eq!(sessions.keys(Some("sessions"), None).await.unwrap(), ["k"]);
    assert_eq!(cache.collections(None).await.unwrap(), ["cache-1"]);
    let mut in_default = default.collections(None).await.unwrap();
    in_default.sort();
    assert_eq!(in_default, ["default_collection", "users"]);
    assert!(default.get("k", Some("sessions")).await.unwrap().is_none());
    assert_eq!(
        store.get("k", Some("cache-1")).await.unwrap(),
        Some(obj(json!({"c": "cache-1"})))
    );

    let mut all = store.collections(None).await.unwrap();
    all.sort();
    assert_eq!(all, ["cache-1", "default_collection", "sessions", "users"]);

    assert!(store.destroy_collection("sessions").await.unwrap());
    assert!(sessions.collections(None).await.unwrap().is_empty());
    assert_eq!(cache.collections(None).await.unwrap(), ["cache-1"]);
}

#[tokio::test]
async fn the_default_collection_is_routed_by_its_name() {
    let default = Arc::new(MemoryStore::new());
    let special = Arc::new(MemoryStore::new());
    let store = Routing::new(default.clone()).route("default_collection", special.clone());
    store
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap();
    // Python would send `None` to the default store; here `None` and its name agree.
    assert!(
        special
            .get("k", Some("default_collection"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(default.get("k", None).await.unwrap().is_none());
    assert_eq!(
        store.get("k", Some("default_collection")).await.unwrap(),
        store.get("k", None).await.unwrap()
    );
}

#[tokio::test]
async fn a_collection_shadowed_by_a_route_is_not_listed_from_the_default_store() {
    let default = Arc::new(MemoryStore::new());
    default
        .put("k", obj(json!({})), None, Some("moved"))
        .await
        .unwrap();
    default
        .put("k", obj(json!({})), None, Some("kept"))
        .await
        .unwrap();
    let store = Routing::new(default.clone()).route("moved", MemoryStore::new());
    assert_eq!(store.collections(None).await.unwrap(), ["kept"]);
    assert!(store.get("k", Some("moved")).await.unwrap().is_none());
}

#[tokio::test]
async fn capabilities_are_what_every_store_offers() {
    let bounded = MemoryStore::builder()
        .max_entries_per_collection(3)
        .build()
        .unwrap();
    let store = Routing::new(MemoryStore::new()).route("small", bounded);
    let caps = store.capabilities();
    assert_eq!(caps.max_entries_per_collection, Some(3));
    assert!(caps.list_keys && caps.put_if_absent && !caps.read_only);
}
