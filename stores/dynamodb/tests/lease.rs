//! `put_if_absent` over an item in the second its `ttl` attribute names (the attribute
//! is rounded down, so the condition on it cannot tell): the document decides, and an
//! item whose document says it expired is taken over; a live one is not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::time::{Duration, SystemTime};

use key_value_core::{AsyncKeyValue, JsonObject, format_timestamp};
use key_value_test_support::dynamodb::Emulator;

fn num(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

fn document(key: &str, expires_at: SystemTime) -> String {
    format!(
        r#"{{"collection": "c", "created_at": "2020-01-01T00:00:00+00:00", "expires_at": "{}", "key": "{key}", "value": {{"n": 1}}, "version": 1}}"#,
        format_timestamp(expires_at).unwrap()
    )
}

async fn last_second(emulator: Emulator) {
    let test = format!("dynamodb lease on {}", emulator.name());
    let Some(endpoint) = common::endpoint(&test, emulator) else {
        return;
    };
    let store = common::store(&endpoint, &common::unique_table("lease")).await;
    for round in 0..5 {
        let now = SystemTime::now();
        // Expired a millisecond ago: its `ttl` second is (almost always) the current one.
        let old = format!("old-{round}");
        let live = format!("live-{round}");
        store
            .put_document(
                Some("c"),
                &old,
                &document(&old, now - Duration::from_millis(1)),
            )
            .await
            .unwrap();
        store
            .put_document(
                Some("c"),
                &live,
                &document(&live, now + Duration::from_secs(60)),
            )
            .await
            .unwrap();
        assert!(
            store
                .put_if_absent(&old, num(2), None, Some("c"))
                .await
                .unwrap(),
            "{test}: an expired item in its last second is absent"
        );
        assert_eq!(store.get(&old, Some("c")).await.unwrap(), Some(num(2)));
        assert!(
            !store
                .put_if_absent(&live, num(2), None, Some("c"))
                .await
                .unwrap(),
            "{test}: a live item is present"
        );
        assert_eq!(store.get(&live, Some("c")).await.unwrap(), Some(num(1)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_item_in_its_last_second_is_taken_over_dynalite() {
    last_second(Emulator::Dynalite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_item_in_its_last_second_is_taken_over_moto() {
    last_second(Emulator::Moto).await;
}
