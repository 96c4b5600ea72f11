//! The rate limit: the conformance suite over the memory store, and calls over the
//! quota (governor measures real time, so these use small real durations).

#![cfg(feature = "rate-limit")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::faulty;
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::rate_limit::{Quota, RateLimit};

async fn limited_memory_store() -> impl AsyncKeyValue {
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    key_value_memory::MemoryStore::new().layer(RateLimit::new(quota))
}

key_value_conformance::suite!(limited_memory_store);

#[tokio::test]
async fn calls_over_the_quota_are_refused_without_reaching_the_store() {
    let (store, faults) = faulty();
    // A burst of 3, then one call an hour.
    let quota =
        Quota::per_hour(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(3).unwrap());
    let store = store.layer(RateLimit::new(quota).max_wait(Duration::from_millis(100)));
    for _ in 0..3 {
        store.get("k", None).await.unwrap();
    }
    let err = store.get_many(&["a", "b"], Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("rate limit"), "{err}");
    assert_eq!(faults.calls(), 3);
}

#[tokio::test]
async fn calls_over_the_quota_wait_for_their_turn() {
    let (store, faults) = faulty();
    // One call every 20 ms, no burst.
    let quota = Quota::with_period(Duration::from_millis(20)).unwrap();
    let store = store.layer(RateLimit::new(quota));
    let started = Instant::now();
    for _ in 0..4 {
        store.get("k", None).await.unwrap();
    }
    // The first goes at once, the three others each wait for a period.
    assert!(
        started.elapsed() >= Duration::from_millis(55),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(faults.calls(), 4);
}
