//! Migration: the conformance suite over the memory store (an empty old store behind
//! it), lazy moves through the layer, and the one-shot copy.

#![cfg(feature = "migration")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, Capabilities, ErrorKind, Layer, LayerExt};
use key_value_layers::migration::{CopyOptions, CopyScope, Migration, copy};
use key_value_memory::MemoryStore;
use serde_json::json;

async fn migrating_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Migration::new(MemoryStore::new()))
}

key_value_conformance::suite!(migrating_memory_store);

const C: Option<&str> = Some("tokens");
const HOUR: Duration = Duration::from_secs(3600);

async fn old_with_entries() -> Arc<MemoryStore> {
    let old = Arc::new(MemoryStore::new());
    old.put("a", obj(json!({"v": "a"})), Some(HOUR), C)
        .await
        .unwrap();
    old.put("b", obj(json!({"v": "b"})), None, C).await.unwrap();
    old.put("c", obj(json!({"v": "c"})), None, Some("other"))
        .await
        .unwrap();
    old
}

#[tokio::test]
async fn reads_move_entries_with_their_remaining_ttl() {
    let old = old_with_entries().await;
    let new = Arc::new(MemoryStore::new());
    let store = new.clone().layer(Migration::shared(old.clone()));
    assert_eq!(
        store.get("a", C).await.unwrap(),
        Some(obj(json!({"v": "a"})))
    );
    let (value, remaining) = new.ttl("a", C).await.unwrap().unwrap();
    assert_eq!(value, obj(json!({"v": "a"})));
    let remaining = remaining.unwrap();
    assert!(
        remaining <= HOUR && remaining > HOUR - Duration::from_secs(10),
        "{remaining:?}"
    );
    assert!(
        old.get("a", C).await.unwrap().is_some(),
        "the old entry stays"
    );

    let entries = store.ttl_many(&["b", "none"], C).await.unwrap();
    assert_eq!(entries[0], Some((obj(json!({"v": "b"})), None)));
    assert_eq!(entries[1], None);
    assert_eq!(
        new.ttl("b", C).await.unwrap(),
        Some((obj(json!({"v": "b"})), None))
    );
    assert_eq!(new.get("none", C).await.unwrap(), None);
}

#[tokio::test]
async fn writes_go_to_the_new_store_and_deletes_to_both() {
    let old = old_with_entries().await;
    let new = Arc::new(MemoryStore::new());
    let store = new.clone().layer(Migration::shared(old.clone()));
    store
        .put("a", obj(json!({"v": "new"})), None, C)
        .await
        .unwrap();
    assert_eq!(old.get("a", C).await.unwrap(), Some(obj(json!({"v": "a"}))));
    assert_eq!(
        store.get("a", C).await.unwrap(),
        Some(obj(json!({"v": "new"})))
    );

    // A live entry of the old store holds a lease.
    assert!(
        !store
            .put_if_absent("b", obj(json!({})), None, C)
            .await
            .unwrap()
    );
    assert!(
        store
            .put_if_absent("fresh", obj(json!({})), None, C)
            .await
            .unwrap()
    );

    assert!(store.delete("a", C).await.unwrap());
    assert_eq!(
        store.get("a", C).await.unwrap(),
        None,
        "the old value came back"
    );
    assert_eq!(old.get("a", C).await.unwrap(), None);
    old.put("x", obj(json!({})), None, C).await.unwrap();
    assert_eq!(
        store
            .delete_many(&["b", "x", "x", "nothing"], C)
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get("b", C).await.unwrap(), None);

    let mut keys = store.keys(C, None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["fresh"]);
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, ["other", "tokens"]);
}

#[tokio::test]
async fn copies_a_whole_store_or_one_collection_keeping_ttls() {
    let old = old_with_entries().await;
    for i in 0..250 {
        old.put(
            &format!("k{i}"),
            obj(json!({"i": i})),
            if i % 2 == 0 { None } else { Some(HOUR) },
            Some("bulk"),
        )
        .await
        .unwrap();
    }
    let new = MemoryStore::new();
    let report = copy(
        old.as_ref(),
        &new,
        CopyScope::Store,
        CopyOptions::default().batch_size(100),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.collections,
            report.copied,
            report.vanished,
            report.kept
        ),
        (3, 253, 0, 0)
    );
    assert_eq!(
        new.get("k7", Some("bulk")).await.unwrap(),
        Some(obj(json!({"i": 7})))
    );
    assert_eq!(new.ttl("k8", Some("bulk")).await.unwrap().unwrap().1, None);
    let remaining = new
        .ttl("k9", Some("bulk"))
        .await
        .unwrap()
        .unwrap()
        .1
        .unwrap();
    assert!(remaining <= HOUR && remaining > HOUR - Duration::from_secs(10));

    // One collection, keeping what the destination has.
    let other = MemoryStore::new();
    other
        .put("b", obj(json!({"v": "mine"})), None, C)
        .await
        .unwrap();
    let report = copy(
        old.as_ref(),
        &other,
        CopyScope::Collection("tokens"),
        CopyOptions::default().overwrite(false),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.collections,
            report.copied,
            report.vanished,
            report.kept
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(
        other.get("b", C).await.unwrap(),
        Some(obj(json!({"v": "mine"})))
    );
    assert_eq!(other.get("c", Some("other")).await.unwrap(), None);
}

/// A layer hiding enumeration, as stores without `keys` or `collections` do.
struct NoListing {
    keys: bool,
}
struct NoListingStore<S>(S, bool);
impl<S: AsyncKeyValue> Layer<S> for NoListing {
    type Store = NoListingStore<S>;
    fn layer(&self, inner: S) -> NoListingStore<S> {
        NoListingStore(inner, self.keys)
    }
}
impl<S: AsyncKeyValue> AsyncKeyValue for NoListingStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: self.1,
            list_collections: false,
            ..self.0.capabilities()
        }
    }
}

#[tokio::test]
async fn copy_needs_enumeration_on_the_source() {
    let (source, faults) = faulty();
    let new = MemoryStore::new();
    let source = source.layer(NoListing { keys: false });
    let err = copy(
        &source,
        &new,
        CopyScope::Collection("c"),
        CopyOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("`keys`"), "{err}");
    let source = faulty().0.layer(NoListing { keys: true });
    let err = copy(&source, &new, CopyScope::Store, CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("`collections`"), "{err}");
    assert_eq!(faults.calls(), 0, "the source was touched");
}

#[tokio::test]
async fn copy_stops_at_the_first_error_and_can_be_run_again() {
    let (source, faults) = faulty();
    for i in 0..5 {
        source
            .memory()
            .put(&format!("k{i}"), obj(json!({"i": i})), None, C)
            .await
            .unwrap();
    }
    let new = MemoryStore::new();
    faults.pass(1); // keys
    faults.fail(1, ErrorKind::Connection); // the first batch read
    let err = copy(
        &source,
        &new,
        CopyScope::Collection("tokens"),
        CopyOptions::default().batch_size(2),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    let report = copy(
        &source,
        &new,
        CopyScope::Collection("tokens"),
        CopyOptions::default().batch_size(2),
    )
    .await
    .unwrap();
    assert_eq!(report.copied, 5);
    assert_eq!(
        faults.operations(),
        [
            "keys", "ttl_many", "keys", "ttl_many", "ttl_many", "ttl_many"
        ]
    );
}
