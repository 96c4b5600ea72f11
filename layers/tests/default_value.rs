//! The default-value layer: the conformance suite over the memory store less the cases
//! that read a missing key (which now reads as the default, on purpose), and the
//! default's value, TTL and isolation from the store.

#![cfg(feature = "default-value")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance_subset;

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, JsonObject, LayerExt};
use key_value_layers::default_value::DefaultValue;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj(value: serde_json::Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

fn fallback() -> JsonObject {
    obj(json!({"default": true}))
}

#[test]
fn conformance_except_reads_of_missing_keys() {
    let reason = "reads a missing, deleted or expired key and expects none: the layer \
                  returns the default value there, which is its purpose";
    conformance_subset::run_except(
        || async { MemoryStore::new().layer(DefaultValue::new(fallback())) },
        &[
            ("get_missing_is_none", reason),
            ("default_collection_round_trip", reason),
            ("ttl_many_reports_each", reason),
            ("put_with_new_ttl_replaces_old", reason),
            ("ttl_missing_is_none", reason),
            ("put_delete_get", reason),
            ("get_put_get", reason),
            ("get_many_missing", reason),
            ("get_many_keeps_order_and_gaps", reason),
            ("delete_many_then_get_many", reason),
            ("expired_entry_reads_as_missing", reason),
            ("default_and_named_collections_are_separate", reason),
            ("put_many_is_isolated", reason),
            ("destroy_collection_keeps_others", reason),
            ("destroy_collection_removes_entries", reason),
            ("destroy_removes_everything", reason),
            ("put_many_mismatched_lengths_write_nothing", reason),
            ("put_many_invalid_key_writes_nothing", reason),
            ("put_many_invalid_ttl_writes_nothing", reason),
            ("put_if_absent_invalid_input_writes_nothing", reason),
            ("concurrent_mixed_operations", reason),
            ("cull_keeps_live_entries", reason),
        ],
    );
}

#[tokio::test]
async fn missing_keys_read_as_the_default_and_nothing_is_written() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner
        .clone()
        .layer(DefaultValue::new(fallback()).ttl(Some(Duration::from_secs(30))));
    store
        .put("present", obj(json!({"v": 1})), None, None)
        .await
        .unwrap();
    assert_eq!(store.get("absent", None).await.unwrap(), Some(fallback()));
    assert_eq!(
        store.get("present", None).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
    assert_eq!(
        store.get_many(&["present", "absent"], None).await.unwrap(),
        vec![Some(obj(json!({"v": 1}))), Some(fallback())]
    );
    assert_eq!(
        store.ttl("absent", None).await.unwrap(),
        Some((fallback(), Some(Duration::from_secs(30))))
    );
    assert_eq!(
        store.ttl_many(&["present", "absent"], None).await.unwrap(),
        vec![
            Some((obj(json!({"v": 1})), None)),
            Some((fallback(), Some(Duration::from_secs(30))))
        ]
    );
    assert!(inner.get("absent", None).await.unwrap().is_none());
    assert_eq!(store.keys(None, None).await.unwrap(), ["present"]);
    // Each read gets its own copy: changing one changes nothing else.
    let mut first = store.get("absent", None).await.unwrap().unwrap();
    first.insert("changed".into(), json!(1));
    assert_eq!(store.get("absent", None).await.unwrap(), Some(fallback()));
}
