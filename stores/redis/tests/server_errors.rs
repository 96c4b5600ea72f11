//! Errors the server answers with say what the server said: an out-of-memory refusal
//! shows Redis's own text in the error's `Display`, for single writes and for batches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject};
use key_value_redis::RedisStore;
use key_value_test_support::redis::RedisServer;

const TEST: &str = "key-value-redis server_errors";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_shows_the_servers_text() {
    // A private server that refuses every write: its memory limit is one byte.
    let Some(server) = RedisServer::start_with(
        TEST,
        &["--maxmemory", "1", "--maxmemory-policy", "noeviction"],
    ) else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let mut value = JsonObject::new();
    value.insert("n".into(), 1.into());

    let err = store
        .put("k", value.clone(), None, Some("c"))
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Backend, "{shown}");
    assert!(
        shown.contains("OOM") && shown.contains("maxmemory"),
        "put: the server's text is missing from {shown:?}"
    );

    let err = store
        .put_many(
            &["a", "b"],
            vec![value.clone(), value.clone()],
            None,
            Some("c"),
        )
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("OOM"),
        "put_many: the server's text is missing from {shown:?}"
    );

    let err = store
        .put_if_absent("k", value, None, Some("c"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("OOM"), "put_if_absent: {err}");
    // Reads still work.
    assert_eq!(store.get("k", Some("c")).await.unwrap(), None);
}
