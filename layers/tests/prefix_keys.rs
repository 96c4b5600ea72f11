//! The prefix-keys layer: the conformance suite over the memory store (less the
//! longest-key case, which the prefix makes too long for the store below), and the
//! stored keys, enumeration and destruction that the prefix changes.

#![cfg(feature = "prefix-keys")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance_subset;

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::prefix_keys::PrefixKeys;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

#[test]
fn conformance_except_the_longest_keys() {
    conformance_subset::run_except(
        || async { MemoryStore::new().layer(PrefixKeys::new("app")) },
        &[
            (
                "longest_key_works",
                "a 4096-byte key becomes `app__` + 4096 bytes below, over the store's limit",
            ),
            (
                "similar_keys_stay_distinct",
                "its keys include ones of 4096 bytes, too long below for the same reason",
            ),
        ],
    );
}

#[tokio::test]
async fn keys_are_stored_with_the_prefix_as_python_writes_them() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(PrefixKeys::new("app"));
    store
        .put("token", obj(json!({"v": 1})), None, Some("auth"))
        .await
        .unwrap();
    assert_eq!(
        inner.get("app__token", Some("auth")).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
    assert_eq!(inner.get("token", Some("auth")).await.unwrap(), None);
    let got = store
        .get_many(&["token", "missing"], Some("auth"))
        .await
        .unwrap();
    assert_eq!(got, vec![Some(obj(json!({"v": 1}))), None]);
    let err = store.get("", Some("auth")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    let Some(python) = key_value_test_support::python::run(
        "prefix_keys_python_names",
        "from key_value.aio._utils.compound import prefix_key\n\
         print(prefix_key(prefix='app', key='token'))",
        &[],
    ) else {
        return;
    };
    assert_eq!(python.trim(), "app__token");
}

#[tokio::test]
async fn enumeration_and_destruction_touch_only_prefixed_keys() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(PrefixKeys::new("app"));
    for k in ["a", "b", "c"] {
        store
            .put(k, obj(json!({})), None, Some("shared"))
            .await
            .unwrap();
    }
    inner
        .put("foreign", obj(json!({})), None, Some("shared"))
        .await
        .unwrap();
    inner
        .put("app_x", obj(json!({})), None, Some("shared"))
        .await
        .unwrap();
    inner
        .put("other__a", obj(json!({})), None, Some("only-foreign"))
        .await
        .unwrap();

    let mut keys = store.keys(Some("shared"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(store.keys(Some("shared"), Some(2)).await.unwrap().len(), 2);
    // A collection with no prefixed key is not the layer's.
    assert_eq!(store.collections(None).await.unwrap(), ["shared"]);

    assert!(store.destroy_collection("shared").await.unwrap());
    let mut left = inner.keys(Some("shared"), None).await.unwrap();
    left.sort();
    assert_eq!(left, ["app_x", "foreign"]);
    assert!(!store.destroy_collection("shared").await.unwrap());

    store
        .put("z", obj(json!({})), None, Some("only-foreign"))
        .await
        .unwrap();
    assert!(store.destroy().await.unwrap());
    assert_eq!(
        inner.keys(Some("only-foreign"), None).await.unwrap(),
        ["other__a"]
    );
}
