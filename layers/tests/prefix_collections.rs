//! The prefix-collections layer: the conformance suite over the memory store (less the
//! longest-name case, which the prefix makes too long for the store below), and the
//! stored names, enumeration and destruction that the prefix changes.

#![cfg(feature = "prefix-collections")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance_subset;

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::prefix_collections::PrefixCollections;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

#[test]
fn conformance_except_the_longest_collection_names() {
    conformance_subset::run_except(
        || async { MemoryStore::new().layer(PrefixCollections::new("app")) },
        &[
            (
                "longest_collection_works",
                "a 4096-byte collection becomes `app__` + 4096 bytes below, over the \
                 store's limit: the prefix takes bytes of the name",
            ),
            (
                "similar_collections_stay_distinct",
                "its names include ones of 4096 bytes, too long below for the same reason",
            ),
        ],
    );
}

#[tokio::test]
async fn collections_are_stored_with_the_prefix_as_python_writes_them() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(PrefixCollections::new("app"));
    store
        .put("k", obj(json!({"v": 1})), None, Some("users"))
        .await
        .unwrap();
    store
        .put("k", obj(json!({"v": 2})), None, None)
        .await
        .unwrap();
    assert_eq!(
        inner.get("k", Some("app__users")).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
    assert_eq!(
        inner
            .get("k", Some("app__default_collection"))
            .await
            .unwrap(),
        Some(obj(json!({"v": 2})))
    );
    assert_eq!(inner.get("k", Some("users")).await.unwrap(), None);
    // py-key-value's own helper names the same collection.
    let Some(python) = key_value_test_support::python::run(
        "prefix_collections_python_names",
        "from key_value.aio._utils.compound import prefix_collection\n\
         print(prefix_collection(prefix='app', collection='users'))",
        &[],
    ) else {
        return;
    };
    assert_eq!(python.trim(), "app__users");
}

#[tokio::test]
async fn the_default_collection_can_be_chosen_and_empty_names_are_refused() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner
        .clone()
        .layer(PrefixCollections::new("app").default_collection("main"));
    assert_eq!(store.info().default_collection, "main");
    store
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap();
    assert!(inner.get("k", Some("app__main")).await.unwrap().is_some());
    // Python would take "" for the default collection; here it is an invalid name.
    let err = store
        .put("k", obj(json!({})), None, Some(""))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    assert!(inner.get("k", Some("app__")).await.unwrap().is_none());
}

#[tokio::test]
async fn enumeration_strips_the_prefix_and_skips_foreign_collections() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(PrefixCollections::new("app"));
    let other = inner.clone().layer(PrefixCollections::new("other"));
    for c in ["a", "b", "c"] {
        store.put("k", obj(json!({})), None, Some(c)).await.unwrap();
    }
    other
        .put("k", obj(json!({})), None, Some("x"))
        .await
        .unwrap();
    inner
        .put("k", obj(json!({})), None, Some("plain"))
        .await
        .unwrap();
    inner
        .put("k", obj(json!({})), None, Some("app_single"))
        .await
        .unwrap();

    let mut listed = store.collections(None).await.unwrap();
    listed.sort();
    assert_eq!(listed, ["a", "b", "c"]);
    assert_eq!(other.collections(None).await.unwrap(), ["x"]);
    // The limit counts the layer's collections, not the store's.
    assert_eq!(store.collections(Some(2)).await.unwrap().len(), 2);
    assert_eq!(store.keys(Some("a"), None).await.unwrap(), ["k"]);

    // destroy removes the prefixed collections only.
    assert!(store.capabilities().destroy);
    assert!(store.destroy().await.unwrap());
    assert!(store.collections(None).await.unwrap().is_empty());
    let mut left = inner.collections(None).await.unwrap();
    left.sort();
    assert_eq!(left, ["app_single", "other__x", "plain"]);
    assert!(!store.destroy().await.unwrap());
}
