//! The versioning layer: the conformance suite over the memory store, the stored
//! envelope of py-key-value's `VersioningWrapper` (from an unmerged branch: no Python
//! release has it to test against), and values of other versions reading as missing.

#![cfg(feature = "versioning")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::versioning::Versioning;
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

fn obj(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

async fn versioned_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Versioning::new("v1"))
}

key_value_conformance::suite!(versioned_memory_store);

#[tokio::test]
async fn values_are_stored_in_the_python_envelope() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Versioning::new("v1.2.0"));
    store
        .put("k", obj(json!({"name": "Ada"})), None, None)
        .await
        .unwrap();
    let stored = inner.get("k", None).await.unwrap().unwrap();
    assert_eq!(
        Value::Object(stored),
        json!({"__version__": "v1.2.0", "__versioned_data__": {"name": "Ada"}})
    );
    let numbered = inner.clone().layer(Versioning::new(3));
    numbered.put("n", obj(json!({})), None, None).await.unwrap();
    assert_eq!(
        inner.get("n", None).await.unwrap().unwrap()["__version__"],
        json!(3)
    );
}

#[tokio::test]
async fn other_versions_read_as_missing() {
    let inner = Arc::new(MemoryStore::new());
    let v1 = inner.clone().layer(Versioning::new("v1"));
    let v2 = inner.clone().layer(Versioning::new("v2"));
    let one = inner.clone().layer(Versioning::new(1));
    v1.put(
        "k",
        obj(json!({"v": 1})),
        Some(Duration::from_secs(60)),
        None,
    )
    .await
    .unwrap();
    assert_eq!(v2.get("k", None).await.unwrap(), None);
    assert_eq!(v2.ttl("k", None).await.unwrap(), None);
    assert_eq!(v2.get_many(&["k"], None).await.unwrap(), vec![None]);
    assert_eq!(v2.ttl_many(&["k"], None).await.unwrap(), vec![None]);
    // The string "v1" is not the integer 1; 1.0 written by Python is.
    assert_eq!(one.get("k", None).await.unwrap(), None);
    inner
        .put(
            "f",
            obj(json!({"__version__": 1.0, "__versioned_data__": {"f": 1}})),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        one.get("f", None).await.unwrap(),
        Some(obj(json!({"f": 1})))
    );
    let (value, left) = v1.ttl("k", None).await.unwrap().unwrap();
    assert_eq!(value, obj(json!({"v": 1})));
    assert!(left.is_some_and(|left| left <= Duration::from_secs(60)));
    // v2 takes over with a put.
    v2.put("k", obj(json!({"v": 2})), None, None).await.unwrap();
    assert_eq!(v1.get("k", None).await.unwrap(), None);
    assert_eq!(v2.get("k", None).await.unwrap(), Some(obj(json!({"v": 2}))));
}

#[tokio::test]
async fn unversioned_values_pass_and_own_version_fields_round_trip() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Versioning::new("v1"));
    inner
        .put("old", obj(json!({"legacy": true})), None, None)
        .await
        .unwrap();
    assert_eq!(
        store.get("old", None).await.unwrap(),
        Some(obj(json!({"legacy": true})))
    );
    // Python would store this unwrapped and then read it as version 7: missing.
    let own = obj(json!({"__version__": 7, "x": 1}));
    store.put("own", own.clone(), None, None).await.unwrap();
    assert_eq!(store.get("own", None).await.unwrap(), Some(own));
}

#[tokio::test]
async fn an_envelope_without_data_is_an_error_for_its_key() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Versioning::new("v1"));
    inner
        .put(
            "bad",
            obj(json!({"__version__": "v1", "__versioned_data__": [1]})),
            None,
            None,
        )
        .await
        .unwrap();
    inner
        .put("none", obj(json!({"__version__": "v1"})), None, None)
        .await
        .unwrap();
    for key in ["bad", "none"] {
        let err = store.get(key, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization);
        assert_eq!(err.key(), Some(key));
    }
}
