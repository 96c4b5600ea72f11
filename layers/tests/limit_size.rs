//! The limit-size layer: the conformance suite over the memory store (with a limit the
//! suite's oversized-value case exercises), sizes measured as py-key-value measures
//! them, and too-large and too-small values rejected or skipped.

#![cfg(feature = "limit-size")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::limit_size::{LimitSize, OnViolation, serialized_size};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

fn obj(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

async fn limited_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(LimitSize::new().max_size(4 << 20))
}

key_value_conformance::suite!(limited_memory_store);

#[test]
fn sizes_are_pythons() {
    let value = obj(json!({"b": "é", "a": [1, 2.5]}));
    // json.dumps(value, sort_keys=True) == '{"a": [1, 2.5], "b": "\\u00e9"}'
    assert_eq!(serialized_size(&value).unwrap(), 30);
    let Some(python) = key_value_test_support::python::run(
        "limit_size_python_measure",
        "import json\n\
         from key_value.aio._utils.managed_entry import estimate_serialized_size\n\
         print(estimate_serialized_size({'b': '\\u00e9', 'a': [1, 2.5]}))",
        &[],
    ) else {
        return;
    };
    assert_eq!(python.trim(), "30");
}

#[tokio::test]
async fn too_large_values_are_refused_and_nothing_is_written() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(LimitSize::new().max_size(20));
    let fits = obj(json!({"v": "x".repeat(11)})); // {"v": "xxxxxxxxxxx"}: 20 bytes
    let over = obj(json!({"v": "x".repeat(12)}));
    store.put("fits", fits.clone(), None, None).await.unwrap();
    let err = store
        .put("over", over.clone(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    assert!(
        err.to_string().contains("21") && err.to_string().contains("20"),
        "{err}"
    );
    assert_eq!(err.key(), Some("over"));
    assert!(inner.get("over", None).await.unwrap().is_none());
    // One refused value in a batch writes none of it.
    let err = store
        .put_many(&["a", "b"], vec![fits.clone(), over.clone()], None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    assert!(inner.get("a", None).await.unwrap().is_none());
    assert!(store.put_if_absent("p", over, None, None).await.is_err());
    assert_eq!(store.capabilities().max_entry_bytes, Some(20));
    // Reads are not checked.
    inner
        .put("big", obj(json!({"v": "y".repeat(100)})), None, None)
        .await
        .unwrap();
    assert!(store.get("big", None).await.unwrap().is_some());
}

#[tokio::test]
async fn values_outside_the_limits_can_be_skipped_instead() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(
        LimitSize::new()
            .min_size(10)
            .max_size(20)
            .on_too_large(OnViolation::Warn),
    );
    let tiny = obj(json!({})); // 2 bytes: skipped by default, as in Python
    let fits = obj(json!({"v": "x"}));
    let over = obj(json!({"v": "x".repeat(50)}));
    store.put("tiny", tiny.clone(), None, None).await.unwrap();
    store.put("over", over.clone(), None, None).await.unwrap();
    assert!(inner.get("tiny", None).await.unwrap().is_none());
    assert!(inner.get("over", None).await.unwrap().is_none());
    store
        .put_many(
            &["t", "f", "o"],
            vec![tiny.clone(), fits.clone(), over.clone()],
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(inner.keys(None, None).await.unwrap(), ["f"]);
    assert!(!store.put_if_absent("p", over, None, None).await.unwrap());
    assert_eq!(store.capabilities().max_entry_bytes, None);

    let strict = inner.clone().layer(
        LimitSize::new()
            .min_size(10)
            .on_too_small(OnViolation::Reject),
    );
    let err = strict.put("tiny", tiny, None, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("at least 10"), "{err}");
}
