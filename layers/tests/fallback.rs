//! The fallback layer: the conformance suite over the memory store (with a memory
//! store as fallback), and reads and writes on a failing primary.

#![cfg(feature = "fallback")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::fallback::Fallback;
use key_value_memory::MemoryStore;
use serde_json::json;

async fn memory_with_fallback() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Fallback::new(MemoryStore::new()))
}

key_value_conformance::suite!(memory_with_fallback);

#[tokio::test]
async fn reads_fall_back_when_the_primary_fails() {
    let (primary, faults) = faulty();
    let spare: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    spare
        .put(
            "k",
            obj(json!({"from": "spare"})),
            Some(Duration::from_secs(60)),
            None,
        )
        .await
        .unwrap();
    primary
        .memory()
        .put("k", obj(json!({"from": "primary"})), None, None)
        .await
        .unwrap();
    let store = primary.layer(Fallback::shared(spare.clone()));

    // A healthy primary answers.
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"from": "primary"})))
    );

    faults.then_fail(ErrorKind::Connection);
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"from": "spare"})))
    );
    assert_eq!(
        store.get_many(&["k", "x"], None).await.unwrap(),
        vec![Some(obj(json!({"from": "spare"}))), None]
    );
    let (value, remaining) = store.ttl("k", None).await.unwrap().unwrap();
    assert_eq!(value, obj(json!({"from": "spare"})));
    assert!(remaining.unwrap() <= Duration::from_secs(60));
    assert_eq!(store.ttl_many(&["k"], None).await.unwrap().len(), 1);
    assert_eq!(
        faults.operations(),
        ["get", "get", "get_many", "ttl", "ttl_many"]
    );
}

#[tokio::test]
async fn writes_stay_on_the_primary_unless_told_otherwise() {
    let (primary, faults) = faulty();
    let spare: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    let store = primary.layer(Fallback::shared(spare.clone()));
    faults.then_fail(ErrorKind::Connection);
    let err = store
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(
        store.delete("k", None).await.unwrap_err().kind(),
        ErrorKind::Connection
    );
    assert_eq!(
        spare.get("k", None).await.unwrap(),
        None,
        "the spare was written"
    );

    let (primary, faults) = faulty();
    let store = primary.layer(Fallback::shared(spare.clone()).write_to_fallback(true));
    faults.then_fail(ErrorKind::Connection);
    store
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap();
    store
        .put_many(
            &["a", "b"],
            vec![obj(json!({"v": 2})), obj(json!({"v": 3}))],
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        spare.get("k", None).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
    assert_eq!(store.delete_many(&["a", "b"], None).await.unwrap(), 2);
    assert!(store.delete("k", None).await.unwrap());
    // A lease never falls back.
    assert_eq!(
        store
            .put_if_absent("lease", obj(json!({})), None, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Connection
    );
    assert_eq!(spare.get("lease", None).await.unwrap(), None);
}

#[tokio::test]
async fn errors_of_the_caller_do_not_fall_back() {
    let (primary, faults) = faulty();
    let spare = MemoryStore::new();
    spare
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap();
    let store = primary.layer(Fallback::new(spare));
    for kind in [
        ErrorKind::InvalidKey,
        ErrorKind::Unsupported,
        ErrorKind::ValueTooLarge,
    ] {
        faults.fail(1, kind);
        assert_eq!(store.get("k", None).await.unwrap_err().kind(), kind);
    }
    // Any other error does, a corrupted entry included.
    faults.fail(1, ErrorKind::Deserialization);
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
}

#[tokio::test]
async fn the_default_collection_is_the_primarys_on_both_stores() {
    let (primary, faults) = faulty();
    let spare = MemoryStore::builder()
        .default_collection("elsewhere")
        .build()
        .unwrap();
    spare
        .put(
            "k",
            obj(json!({"v": 1})),
            None,
            Some(primary.info().default_collection),
        )
        .await
        .unwrap();
    let store = primary.layer(Fallback::new(spare));
    faults.then_fail(ErrorKind::Connection);
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
}
