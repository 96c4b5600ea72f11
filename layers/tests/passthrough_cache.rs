//! The passthrough cache: the conformance suite over the memory store (with a memory
//! store as cache), and caching, cache TTLs and invalidation.

#![cfg(feature = "passthrough-cache")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::passthrough_cache::PassthroughCache;
use key_value_memory::MemoryStore;
use serde_json::json;

async fn cached_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(PassthroughCache::new(MemoryStore::new()))
}

key_value_conformance::suite!(cached_memory_store);

const C: Option<&str> = Some("c");

/// A layered store, its primary (the faulty store's memory) and its cache.
fn setup(
    cache: PassthroughCache,
) -> (impl AsyncKeyValue, Arc<MemoryStore>, Arc<dyn AsyncKeyValue>) {
    let primary = Arc::new(MemoryStore::new());
    let store = primary.clone().layer(cache.clone());
    let cache = store.cache().clone();
    (store, primary, cache)
}

#[tokio::test]
async fn reads_are_served_from_the_cache_once_filled() {
    let (store, primary, cache) = setup(PassthroughCache::new(MemoryStore::new()));
    primary
        .put("k", obj(json!({"v": 1})), None, C)
        .await
        .unwrap();
    assert_eq!(cache.get("k", C).await.unwrap(), None);
    assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
    assert_eq!(
        cache.get("k", C).await.unwrap(),
        Some(obj(json!({"v": 1}))),
        "not cached"
    );
    // A change behind the cache's back is not seen until the cached entry expires.
    primary
        .put("k", obj(json!({"v": 2})), None, C)
        .await
        .unwrap();
    assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
    // get_many: hits from the cache, misses from the primary (and then cached).
    primary
        .put("m", obj(json!({"v": 3})), None, C)
        .await
        .unwrap();
    assert_eq!(
        store.get_many(&["k", "m", "none"], C).await.unwrap(),
        vec![Some(obj(json!({"v": 1}))), Some(obj(json!({"v": 3}))), None]
    );
    assert_eq!(cache.get("m", C).await.unwrap(), Some(obj(json!({"v": 3}))));
    assert_eq!(
        cache.get("none", C).await.unwrap(),
        None,
        "a miss was cached"
    );
}

#[tokio::test]
async fn writes_and_deletes_invalidate_the_cache() {
    let (store, primary, cache) = setup(PassthroughCache::new(MemoryStore::new()));
    store.put("k", obj(json!({"v": 1})), None, C).await.unwrap();
    store.get("k", C).await.unwrap();
    assert!(cache.get("k", C).await.unwrap().is_some());

    store.put("k", obj(json!({"v": 2})), None, C).await.unwrap();
    assert_eq!(cache.get("k", C).await.unwrap(), None);
    assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 2}))));

    store
        .put_many(
            &["k", "j"],
            vec![obj(json!({"v": 3})), obj(json!({"v": 4}))],
            None,
            C,
        )
        .await
        .unwrap();
    assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 3}))));

    assert!(store.delete("k", C).await.unwrap());
    assert_eq!(cache.get("k", C).await.unwrap(), None);
    assert_eq!(store.get("k", C).await.unwrap(), None);

    store.get("j", C).await.unwrap();
    assert_eq!(store.delete_many(&["j"], C).await.unwrap(), 1);
    assert_eq!(store.get("j", C).await.unwrap(), None);

    store.get_many(&["x"], C).await.unwrap();
    primary
        .put("gone", obj(json!({"v": 5})), None, C)
        .await
        .unwrap();
    store.get("gone", C).await.unwrap();
    assert!(store.destroy_collection("c").await.unwrap());
    assert_eq!(cache.get("gone", C).await.unwrap(), None);
    assert_eq!(store.get("gone", C).await.unwrap(), None);
}

#[tokio::test]
async fn cached_entries_expire_no_later_than_the_primarys_and_max_ttl() {
    let cache = PassthroughCache::new(MemoryStore::new())
        .max_ttl(Duration::from_secs(600))
        .missing_ttl(Duration::from_secs(120));
    let (store, primary, cache) = setup(cache);
    primary
        .put("short", obj(json!({})), Some(Duration::from_secs(30)), C)
        .await
        .unwrap();
    primary
        .put("long", obj(json!({})), Some(Duration::from_secs(3600)), C)
        .await
        .unwrap();
    primary.put("never", obj(json!({})), None, C).await.unwrap();
    store
        .get_many(&["short", "long", "never"], C)
        .await
        .unwrap();
    let remaining = |key: &'static str| {
        let cache = cache.clone();
        async move { cache.ttl(key, C).await.unwrap().unwrap().1.unwrap() }
    };
    assert!(remaining("short").await <= Duration::from_secs(30));
    let long = remaining("long").await;
    assert!(
        long <= Duration::from_secs(600) && long > Duration::from_secs(590),
        "{long:?}"
    );
    let never = remaining("never").await;
    assert!(
        never <= Duration::from_secs(120) && never > Duration::from_secs(110),
        "{never:?}"
    );
    // ttl answers with the entry's own remaining time, not the cache's.
    assert_eq!(store.ttl("never", C).await.unwrap().unwrap().1, None);
    let (_, long) = store.ttl("long", C).await.unwrap().unwrap();
    assert!(long.unwrap() > Duration::from_secs(3500));
}

#[tokio::test]
async fn a_failing_cache_is_bypassed_on_reads_and_fails_writes() {
    let (cache, faults) = faulty();
    let primary = Arc::new(MemoryStore::new());
    let store = primary.clone().layer(PassthroughCache::new(cache));
    primary
        .put("k", obj(json!({"v": 1})), None, C)
        .await
        .unwrap();
    faults.then_fail(ErrorKind::Connection);
    assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
    assert_eq!(
        store.get_many(&["k"], C).await.unwrap(),
        vec![Some(obj(json!({"v": 1})))]
    );
    // An invalidation that fails leaves the primary untouched.
    let err = store
        .put("k", obj(json!({"v": 2})), None, C)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(
        primary.get("k", C).await.unwrap(),
        Some(obj(json!({"v": 1})))
    );
}
