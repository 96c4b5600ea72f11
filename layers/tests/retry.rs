//! The retry layer: the conformance suite over the memory store, and retries on
//! injected faults (on tokio's paused clock, so backoff costs no real time).

#![cfg(feature = "retry")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::retry::Retry;
use serde_json::json;

async fn retried_memory_store() -> impl AsyncKeyValue {
    key_value_memory::MemoryStore::new().layer(Retry::new())
}

key_value_conformance::suite!(retried_memory_store);

fn fast_retry() -> Retry {
    Retry::new()
        .max_retries(5)
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(40))
}

#[tokio::test(start_paused = true)]
async fn retries_retryable_errors_then_stops_at_a_non_retryable_one() {
    let (store, faults) = faulty();
    let store = store.layer(fast_retry());
    faults.fail(2, ErrorKind::Connection);
    faults.fail(1, ErrorKind::Backend);
    faults.then_fail(ErrorKind::Connection); // never reached
    let err = store.get("k", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert_eq!(
        faults.calls(),
        3,
        "two retries, then the non-retryable error ends it"
    );
}

#[tokio::test(start_paused = true)]
async fn succeeds_once_the_store_recovers_after_backing_off() {
    let (store, faults) = faulty();
    let store = store.layer(fast_retry().jitter(false));
    faults.fail(1, ErrorKind::Connection);
    faults.fail(1, ErrorKind::Timeout);
    let started = tokio::time::Instant::now();
    store
        .put("k", obj(json!({"v": 1})), None, Some("c"))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(faults.calls(), 3);
    assert_eq!(
        faults.operations(),
        ["put", "put", "put"],
        "the same operation, tried again"
    );
    // 10 ms, then 20 ms: exponential, no jitter.
    assert!(
        waited >= Duration::from_millis(30) && waited < Duration::from_millis(40),
        "{waited:?}"
    );
    assert_eq!(
        store.inner().memory().get("k", Some("c")).await.unwrap(),
        Some(obj(json!({"v": 1}))),
        "the value of the last attempt was written"
    );
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_retries_with_the_last_error() {
    let (store, faults) = faulty();
    let store = store.layer(fast_retry().max_retries(3));
    faults.then_fail(ErrorKind::Connection);
    let started = tokio::time::Instant::now();
    let err = store.delete_many(&["a", "b"], None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(faults.calls(), 4, "the first attempt and three retries");
    // Delays of 10, 20 and 40 ms, each with a jitter of up to itself.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(70) && waited < Duration::from_millis(140),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_fail_at_once() {
    let (store, faults) = faulty();
    let store = store.layer(fast_retry());
    for kind in [
        ErrorKind::InvalidKey,
        ErrorKind::ValueTooLarge,
        ErrorKind::Deserialization,
        ErrorKind::Unavailable,
    ] {
        let before = faults.calls();
        faults.fail(1, kind);
        let err = store.ttl("k", None).await.unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(faults.calls() - before, 1, "{kind:?} was retried");
    }
}

#[tokio::test(start_paused = true)]
async fn a_predicate_of_ones_own_chooses_what_is_retried() {
    let (store, faults) = faulty();
    let store = store.layer(fast_retry().retry_if(|e| e.kind() == ErrorKind::Backend));
    faults.fail(2, ErrorKind::Backend);
    assert_eq!(store.get("k", None).await.unwrap(), None);
    assert_eq!(faults.calls(), 3);
    faults.fail(1, ErrorKind::Connection);
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Connection
    );
    assert_eq!(faults.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn absurd_delays_do_not_overflow() {
    let (store, faults) = faulty();
    let store = store.layer(
        Retry::new()
            .max_retries(2)
            .initial_delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .factor(f32::MAX),
    );
    faults.fail(2, ErrorKind::Connection);
    let started = tokio::time::Instant::now();
    assert_eq!(store.get("k", None).await.unwrap(), None);
    let waited = started.elapsed();
    // Two delays of one day each, plus jitter of up to as much.
    assert!(
        waited >= Duration::from_secs(2 * 86_400) && waited <= Duration::from_secs(4 * 86_400),
        "{waited:?}"
    );
}
