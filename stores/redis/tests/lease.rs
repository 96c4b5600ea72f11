//! `put_if_absent` over entries Redis still holds after their time: py-key-value rounds
//! its native expiry up to whole seconds, so its entries can outlive their
//! `expires_at`. Such an entry counts as absent, a live one does not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use key_value_core::{AsyncKeyValue, JsonObject};

fn num(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_documents_still_held_are_taken_over() {
    let Some(target) = common::single_target() else {
        return;
    };
    let store = common::connect(target, false).await;
    let raw = common::Raw::connect(target, false).await;
    let collection = format!("kvr-lease-{}", std::process::id());
    // As py-key-value writes them, with no native expiry left to remove them.
    let expired = format!(
        r#"{{"collection": "{collection}", "created_at": "2020-01-01T00:00:00+00:00", "expires_at": "2020-01-01T00:00:01+00:00", "key": "old", "value": {{"n": 1}}, "version": 1}}"#
    );
    let live = format!(
        r#"{{"collection": "{collection}", "created_at": "2020-01-01T00:00:00+00:00", "expires_at": "9000-01-01T00:00:00+00:00", "key": "live", "value": {{"n": 1}}, "version": 1}}"#
    );
    raw.set(&collection, "old", expired.as_bytes())
        .await
        .unwrap();
    raw.set(&collection, "live", live.as_bytes()).await.unwrap();

    assert!(
        store
            .put_if_absent("old", num(2), None, Some(&collection))
            .await
            .unwrap(),
        "an expired entry Redis still holds is absent"
    );
    assert_eq!(
        store.get("old", Some(&collection)).await.unwrap(),
        Some(num(2))
    );
    assert!(
        !store
            .put_if_absent("live", num(2), None, Some(&collection))
            .await
            .unwrap(),
        "a live entry is present"
    );
    assert_eq!(
        store.get("live", Some(&collection)).await.unwrap(),
        Some(num(1))
    );
    assert!(store.destroy_collection(&collection).await.unwrap());
}
