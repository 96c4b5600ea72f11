//! The timeout layer: the conformance suite over the memory store, and a slow store
//! (on tokio's paused clock).

#![cfg(feature = "timeout")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::timeout::Timeout;
use serde_json::json;

async fn limited_memory_store() -> impl AsyncKeyValue {
    key_value_memory::MemoryStore::new().layer(Timeout::default())
}

key_value_conformance::suite!(limited_memory_store);

#[tokio::test(start_paused = true)]
async fn a_slow_operation_fails_with_a_timeout_error_naming_it() {
    let (store, faults) = faulty();
    let store = store.layer(Timeout::new(Duration::from_millis(50)));
    faults.delay(1, Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    let err = store.get("slow-key", Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_retryable());
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    assert_eq!(err.key(), Some("slow-key"));
    assert_eq!(err.collection(), Some("c"));
    assert_eq!(err.store(), Some("faulty"));
    let text = err.to_string();
    assert!(text.contains("`get`") && text.contains("50 ms"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_write_is_cancelled_and_a_fast_one_goes_through() {
    let (store, faults) = faulty();
    let store = store.layer(Timeout::new(Duration::from_millis(50)));
    faults.delay(1, Duration::from_millis(51));
    let err = store
        .put("k", obj(json!({"v": 1})), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // The sleeping write was dropped before it reached the memory store.
    assert_eq!(store.inner().memory().get("k", None).await.unwrap(), None);
    faults.delay(1, Duration::from_millis(49));
    store
        .put("k", obj(json!({"v": 2})), None, None)
        .await
        .unwrap();
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"v": 2})))
    );
}

#[tokio::test(start_paused = true)]
async fn enumeration_is_limited_too() {
    let (store, faults) = faulty();
    let store = store.layer(Timeout::new(Duration::from_millis(5)));
    faults.then_delay(Duration::from_secs(1));
    assert_eq!(
        store.keys(Some("c"), None).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
    assert_eq!(
        store.collections(None).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
}
