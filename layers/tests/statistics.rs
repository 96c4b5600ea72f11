//! The statistics layer: the conformance suite over the memory store, and the counts.

#![cfg(feature = "statistics")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::statistics::{HitMiss, Statistics};
use key_value_memory::MemoryStore;
use serde_json::json;

async fn counted_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Statistics::new())
}

key_value_conformance::suite!(counted_memory_store);

#[tokio::test]
async fn counts_hits_misses_puts_and_deletes_per_collection() {
    let stats = Statistics::new();
    let store = MemoryStore::builder()
        .default_collection("mine")
        .build()
        .unwrap()
        .layer(stats.clone());
    let v = || obj(json!({"v": 1}));
    store.put("a", v(), None, Some("c")).await.unwrap();
    store
        .put_many(&["b", "c"], vec![v(), v()], None, Some("c"))
        .await
        .unwrap();
    store.get("a", Some("c")).await.unwrap();
    store.get("zz", Some("c")).await.unwrap();
    store
        .get_many(&["a", "b", "x", "y"], Some("c"))
        .await
        .unwrap();
    store.ttl("a", Some("c")).await.unwrap();
    store.ttl_many(&["b", "q"], Some("c")).await.unwrap();
    assert!(store.delete("a", Some("c")).await.unwrap());
    assert!(!store.delete("a", Some("c")).await.unwrap());
    assert_eq!(
        store
            .delete_many(&["b", "c", "d"], Some("c"))
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .put_if_absent("l", v(), None, Some("c"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_absent("l", v(), None, Some("c"))
            .await
            .unwrap()
    );
    store.get("a", None).await.unwrap();

    let snapshot = stats.snapshot();
    let c = snapshot.collection("c");
    assert_eq!(c.get, HitMiss { hits: 3, misses: 3 });
    assert_eq!(c.ttl, HitMiss { hits: 2, misses: 1 });
    assert_eq!(c.puts, 4);
    assert_eq!(c.delete, HitMiss { hits: 3, misses: 2 });
    assert_eq!(c.put_if_absent, HitMiss { hits: 1, misses: 1 });
    // `None` counts under the store's own default collection.
    assert_eq!(
        snapshot.collection("mine").get,
        HitMiss { hits: 0, misses: 1 }
    );
    assert_eq!(snapshot.collections.len(), 2);
    assert_eq!(store.statistics().snapshot(), snapshot);
    stats.reset();
    assert!(stats.snapshot().collections.is_empty());
}

#[tokio::test]
async fn failed_operations_are_not_counted() {
    let (store, faults) = faulty();
    let stats = Statistics::new();
    let store = store.layer(stats.clone());
    faults.fail(2, ErrorKind::Connection);
    store.get("k", None).await.unwrap_err();
    store
        .put("k", obj(json!({})), None, None)
        .await
        .unwrap_err();
    assert!(stats.snapshot().collections.is_empty());
}
