//! The circuit breaker: the conformance suite over the memory store, and the three
//! states on a failing store (on tokio's paused clock).

#![cfg(feature = "circuit-breaker")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::circuit_breaker::{CircuitBreaker, CircuitState};
use serde_json::json;

async fn guarded_memory_store() -> impl AsyncKeyValue {
    key_value_memory::MemoryStore::new().layer(CircuitBreaker::new(5, Duration::from_secs(30)))
}

key_value_conformance::suite!(guarded_memory_store);

const COOL_DOWN: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_half_opens_after_the_cool_down_and_closes_on_success() {
    let (store, faults) = faulty();
    let store = store.layer(CircuitBreaker::new(3, COOL_DOWN));

    // Closed: failures reach the store, and a success in between resets the count.
    faults.fail(2, ErrorKind::Connection);
    faults.pass(1);
    faults.fail(2, ErrorKind::Timeout);
    for _ in 0..2 {
        store.get("k", None).await.unwrap_err();
    }
    store.get("k", None).await.unwrap();
    for _ in 0..2 {
        store.get("k", None).await.unwrap_err();
    }
    assert_eq!(store.state(), CircuitState::Closed);
    assert_eq!(faults.calls(), 5);

    // The third failure in a row opens it.
    faults.fail(1, ErrorKind::Backend);
    store.get("k", None).await.unwrap_err();
    assert_eq!(store.state(), CircuitState::Open);

    // Open: calls fail at once without reaching the store.
    let err = store
        .put("k", obj(json!({"v": 1})), None, Some("c"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable());
    assert_eq!(err.key(), Some("k"));
    assert!(err.to_string().contains("circuit breaker is open"), "{err}");
    assert_eq!(faults.calls(), 6, "the open circuit let a call through");

    // Half-open after the cool-down: one probe; it fails, so open again.
    tokio::time::advance(COOL_DOWN).await;
    assert_eq!(store.state(), CircuitState::HalfOpen);
    faults.fail(1, ErrorKind::Connection);
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Connection
    );
    assert_eq!(faults.calls(), 7);
    assert_eq!(store.state(), CircuitState::Open);
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(faults.calls(), 7);

    // Another cool-down, a probe that succeeds: closed.
    tokio::time::advance(COOL_DOWN).await;
    store
        .put("k", obj(json!({"v": 2})), None, None)
        .await
        .unwrap();
    assert_eq!(store.state(), CircuitState::Closed);
    assert_eq!(
        store.get("k", None).await.unwrap(),
        Some(obj(json!({"v": 2})))
    );
}

#[tokio::test(start_paused = true)]
async fn while_a_probe_is_in_flight_other_calls_are_refused() {
    let (store, faults) = faulty();
    let store = std::sync::Arc::new(store.layer(CircuitBreaker::new(1, COOL_DOWN)));
    faults.fail(1, ErrorKind::Connection);
    store.get("k", None).await.unwrap_err();
    assert_eq!(store.state(), CircuitState::Open);
    tokio::time::advance(COOL_DOWN).await;

    faults.delay(1, Duration::from_secs(1));
    let probe = tokio::spawn({
        let store = store.clone();
        async move { store.get("k", None).await }
    });
    tokio::task::yield_now().await; // the probe is admitted and sleeps in the store
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(probe.await.unwrap().unwrap(), None);
    assert_eq!(store.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn errors_of_the_caller_do_not_count_as_failures() {
    let (store, faults) = faulty();
    let store = store.layer(CircuitBreaker::new(2, COOL_DOWN));
    faults.fail(5, ErrorKind::InvalidKey);
    for _ in 0..5 {
        store.get("k", None).await.unwrap_err();
    }
    assert_eq!(store.state(), CircuitState::Closed);
    assert_eq!(faults.calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn an_endless_cool_down_does_not_overflow() {
    let (store, faults) = faulty();
    let store = store.layer(CircuitBreaker::new(1, Duration::MAX));
    faults.fail(1, ErrorKind::Connection);
    store.get("k", None).await.unwrap_err();
    assert_eq!(store.state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
}
