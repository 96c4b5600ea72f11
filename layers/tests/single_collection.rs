//! The single-collection layer: the conformance suite over the memory store (less the
//! longest-name cases: collection and key share one stored key), Python's stored keys,
//! the names Python would merge kept apart, and enumeration from the one collection.

#![cfg(feature = "single-collection")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance_subset;

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::single_collection::SingleCollection;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

#[test]
fn conformance_except_the_longest_names() {
    let reason = "collection, separator and key make one key below, so a 4096-byte name \
                  leaves it over the store's limit";
    conformance_subset::run_except(
        || async { MemoryStore::new().layer(SingleCollection::new("all")) },
        &[
            ("longest_key_works", reason),
            ("longest_collection_works", reason),
            ("similar_collections_stay_distinct", reason),
            ("similar_keys_stay_distinct", reason),
        ],
    );
}

#[tokio::test]
async fn stored_keys_are_pythons_for_ordinary_names() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(SingleCollection::new("all"));
    store
        .put("k", obj(json!({"v": 1})), None, Some("users"))
        .await
        .unwrap();
    store
        .put("k", obj(json!({"v": 2})), None, None)
        .await
        .unwrap();
    assert_eq!(inner.collections(None).await.unwrap(), ["all"]);
    assert_eq!(
        inner.get("users__k", Some("all")).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
    assert_eq!(
        inner
            .get("default_collection__k", Some("all"))
            .await
            .unwrap(),
        Some(obj(json!({"v": 2})))
    );
    let Some(python) = key_value_test_support::python::run(
        "single_collection_python_names",
        "from key_value.aio._utils.compound import prefix_key\n\
         print(prefix_key(prefix='users', key='k'))",
        &[],
    ) else {
        return;
    };
    assert_eq!(python.trim(), "users__k");
}

#[tokio::test]
async fn names_python_would_merge_stay_apart() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(SingleCollection::new("all"));
    // In Python both are the stored key `a__b__c`.
    store
        .put("b__c", obj(json!({"who": "a"})), None, Some("a"))
        .await
        .unwrap();
    store
        .put("c", obj(json!({"who": "a__b"})), None, Some("a__b"))
        .await
        .unwrap();
    // `a_` + `__` + `_x` and `a` + `__` + `__x` too.
    store
        .put("_x", obj(json!({"who": "a_"})), None, Some("a_"))
        .await
        .unwrap();
    store
        .put("__x", obj(json!({"who": "a"})), None, Some("a"))
        .await
        .unwrap();
    assert_eq!(
        store.get("b__c", Some("a")).await.unwrap(),
        Some(obj(json!({"who": "a"})))
    );
    assert_eq!(
        store.get("c", Some("a__b")).await.unwrap(),
        Some(obj(json!({"who": "a__b"})))
    );
    assert_eq!(
        store.get("_x", Some("a_")).await.unwrap(),
        Some(obj(json!({"who": "a_"})))
    );
    assert_eq!(inner.keys(Some("all"), None).await.unwrap().len(), 4);
    // The collection that needed it is percent-encoded below.
    assert!(
        inner
            .get("a%5F%5Fb__c", Some("all"))
            .await
            .unwrap()
            .is_some()
    );
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, ["a", "a_", "a__b"]);
    let mut keys = store.keys(Some("a"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["__x", "b__c"]);
}

#[tokio::test]
async fn enumeration_skips_foreign_keys_and_destroy_keeps_them() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(SingleCollection::new("all"));
    for c in ["x", "y"] {
        store.put("k", obj(json!({})), None, Some(c)).await.unwrap();
    }
    // Keys no collection of this layer could have written.
    for foreign in ["no-separator", "%ZZ__k", "%61__k", "__k"] {
        inner
            .put(foreign, obj(json!({})), None, Some("all"))
            .await
            .unwrap();
    }
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, ["x", "y"]);
    assert_eq!(store.collections(Some(1)).await.unwrap().len(), 1);
    let caps = store.capabilities();
    assert!(caps.list_collections && caps.destroy && caps.max_entries_per_collection.is_none());
    assert!(store.destroy_collection("x").await.unwrap());
    assert_eq!(store.collections(None).await.unwrap(), ["y"]);
    assert!(store.destroy().await.unwrap());
    let mut left = inner.keys(Some("all"), None).await.unwrap();
    left.sort();
    assert_eq!(left, ["%61__k", "%ZZ__k", "__k", "no-separator"]);
}

#[test]
fn separators_that_would_break_the_encoding_are_refused() {
    for bad in ["", "%", "-5-", "::A"] {
        let err = SingleCollection::new("all").separator(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    assert!(SingleCollection::new("all").separator("::").is_ok());
}

#[tokio::test]
async fn another_separator_is_used_and_kept_unambiguous() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner
        .clone()
        .layer(SingleCollection::new("all").separator("::").unwrap());
    store
        .put("k", obj(json!({"v": 1})), None, Some("users"))
        .await
        .unwrap();
    store
        .put("b::k", obj(json!({"v": 2})), None, Some("a"))
        .await
        .unwrap();
    store
        .put("k", obj(json!({"v": 3})), None, Some("a::b"))
        .await
        .unwrap();
    assert!(inner.get("users::k", Some("all")).await.unwrap().is_some());
    assert_eq!(
        store.get("b::k", Some("a")).await.unwrap(),
        Some(obj(json!({"v": 2})))
    );
    assert_eq!(
        store.get("k", Some("a::b")).await.unwrap(),
        Some(obj(json!({"v": 3})))
    );
}
