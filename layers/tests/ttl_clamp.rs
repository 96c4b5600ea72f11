//! The TTL-clamp layer: the conformance suite over the memory store (with bounds wide
//! enough for its TTLs), and TTLs clamped to the bounds or defaulted.

#![cfg(feature = "ttl-clamp")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::ttl_clamp::TtlClamp;
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj() -> JsonObject {
    json!({"v": 1}).as_object().cloned().unwrap()
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

async fn clamped_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(TtlClamp::new(Duration::from_millis(1), 10 * YEAR).unwrap())
}

key_value_conformance::suite!(clamped_memory_store);

async fn remaining(store: &impl AsyncKeyValue, key: &str) -> Option<Duration> {
    store.ttl(key, None).await.unwrap().unwrap().1
}

#[tokio::test]
async fn ttls_are_clamped_to_the_bounds() {
    let inner = Arc::new(MemoryStore::new());
    let minute = Duration::from_secs(60);
    let hour = Duration::from_secs(3600);
    let store = inner.clone().layer(TtlClamp::new(minute, hour).unwrap());
    store
        .put("short", obj(), Some(Duration::from_secs(1)), None)
        .await
        .unwrap();
    store
        .put("long", obj(), Some(Duration::from_secs(86_400)), None)
        .await
        .unwrap();
    store
        .put("inside", obj(), Some(Duration::from_secs(600)), None)
        .await
        .unwrap();
    store.put("none", obj(), None, None).await.unwrap();
    let short = remaining(&*inner, "short").await.unwrap();
    assert!(
        short > minute - Duration::from_secs(5) && short <= minute,
        "{short:?}"
    );
    let long = remaining(&*inner, "long").await.unwrap();
    assert!(
        long > hour - Duration::from_secs(5) && long <= hour,
        "{long:?}"
    );
    let inside = remaining(&*inner, "inside").await.unwrap();
    assert!(inside > Duration::from_secs(595), "{inside:?}");
    assert_eq!(remaining(&*inner, "none").await, None);
    store
        .put_many(
            &["a", "b"],
            vec![obj(), obj()],
            Some(Duration::from_millis(5)),
            None,
        )
        .await
        .unwrap();
    assert!(remaining(&*inner, "b").await.unwrap() > Duration::from_secs(55));
    assert!(
        store
            .put_if_absent("p", obj(), Some(YEAR), None)
            .await
            .unwrap()
    );
    assert!(remaining(&*inner, "p").await.unwrap() <= hour);
}

#[tokio::test]
async fn writes_without_a_ttl_get_the_missing_ttl_clamped() {
    let inner = Arc::new(MemoryStore::new());
    let minute = Duration::from_secs(60);
    let store = inner.clone().layer(
        TtlClamp::new(minute, 2 * minute)
            .unwrap()
            .missing_ttl(Some(YEAR)),
    );
    store.put("k", obj(), None, None).await.unwrap();
    let left = remaining(&*inner, "k").await.unwrap();
    assert!(
        left <= 2 * minute && left > 2 * minute - Duration::from_secs(5),
        "{left:?}"
    );
}

#[tokio::test]
async fn invalid_ttls_and_bounds_are_errors() {
    let store = MemoryStore::new().layer(TtlClamp::new(Duration::from_secs(60), YEAR).unwrap());
    let err = store
        .put("k", obj(), Some(Duration::ZERO), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTtl);
    // Python would clamp it to the maximum; a TTL past year 9999 is a caller's bug.
    let err = store
        .put("k", obj(), Some(Duration::from_secs(u64::MAX / 4)), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTtl);
    assert!(store.get("k", None).await.unwrap().is_none());
    for (min, max) in [
        (YEAR, Duration::from_secs(1)),
        (Duration::ZERO, Duration::ZERO),
    ] {
        assert_eq!(
            TtlClamp::new(min, max).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
