//! The bulkhead: the conformance suite over the memory store, and bounded concurrency
//! on a slow store (on tokio's paused clock).

#![cfg(feature = "bulkhead")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::faulty;
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::bulkhead::Bulkhead;

async fn bounded_memory_store() -> impl AsyncKeyValue {
    // The suite's concurrency case runs many tasks at once: they queue.
    key_value_memory::MemoryStore::new().layer(Bulkhead::new(4))
}

key_value_conformance::suite!(bounded_memory_store);

#[tokio::test(start_paused = true)]
async fn at_most_n_operations_run_at_once_and_the_rest_wait() {
    let (store, faults) = faulty();
    let store = Arc::new(store.layer(Bulkhead::new(2)));
    faults.then_delay(Duration::from_millis(100));
    let started = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.get(&format!("k{i}"), None).await })
        })
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(store.free_slots(), 0);
    assert_eq!(faults.calls(), 2, "only two operations reached the store");
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), None);
    }
    // Six operations of 100 ms, two at a time.
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(store.free_slots(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_fails_with_unavailable_without_reaching_the_store() {
    let (store, faults) = faulty();
    let store = Arc::new(store.layer(Bulkhead::new(1).max_wait(Duration::from_millis(10))));
    faults.delay(1, Duration::from_secs(1));
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.get("slow", None).await }
    });
    tokio::task::yield_now().await;
    let err = store.delete("k", Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.key(), Some("k"));
    assert_eq!(faults.calls(), 1);
    slow.await.unwrap().unwrap();
    // The slot is free again.
    assert!(!store.delete("k", Some("c")).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_zero_wait_refuses_at_once_when_full() {
    let (store, faults) = faulty();
    let store = Arc::new(store.layer(Bulkhead::new(1).max_wait(Duration::ZERO)));
    faults.delay(1, Duration::from_secs(1));
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.get("slow", None).await }
    });
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        store.get("k", None).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
    slow.await.unwrap().unwrap();
}
