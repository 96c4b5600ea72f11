//! A Redis restart in the middle of a workload: while the server is down every operation
//! fails quickly with a retryable `Connection` error (no panic, no hang), and afterwards
//! the same store works again without being rebuilt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject};
use key_value_redis::RedisStore;
use key_value_test_support::redis::RedisServer;

const TEST: &str = "key-value-redis fault";
/// The most any single operation may take while the server is down.
const BOUND: Duration = Duration::from_secs(8);

fn num(n: usize) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

/// Waits until `done` has passed `past`, for at most 10 s; fails with `otherwise`.
async fn progressed(done: &AtomicUsize, past: usize, otherwise: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while done.load(Ordering::Relaxed) <= past {
        assert!(Instant::now() < deadline, "{otherwise}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn check_down<T: std::fmt::Debug>(what: &str, result: key_value_core::Result<T>) {
    match result {
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Connection, "{what}: {err}");
            assert!(err.is_retryable(), "{what}: {err}");
        }
        Ok(value) => panic!("{what} succeeded while the server was down: {value:?}"),
    }
}

#[test]
fn store_survives_a_server_restart() {
    // The server must be ours to stop, so REDIS_URL is not used here.
    let Some(mut server) = RedisServer::start(TEST) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(
            RedisStore::builder()
                .connection_timeout(Duration::from_secs(1))
                .response_timeout(Duration::from_secs(2))
                .reconnect_retries(1)
                .connect(&server.url())
                .await
                .unwrap(),
        );

        // A workload of 16 tasks that runs through the whole restart.
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for task in 0..16 {
            let (store, stop, done) = (Arc::clone(&store), Arc::clone(&stop), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                let key = format!("k{task}");
                let mut other_errors = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let result = async {
                        store.put(&key, num(n), None, Some("fault")).await?;
                        store.get(&key, Some("fault")).await
                    }
                    .await;
                    assert!(started.elapsed() < 2 * BOUND, "an operation hung");
                    match result {
                        Ok(value) => {
                            assert_eq!(value, Some(num(n)), "a read after its write");
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == ErrorKind::Connection => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => other_errors.push(e.to_string()),
                    }
                }
                other_errors
            }));
        }

        // Some progress before the fault, however busy the machine.
        progressed(&done, 0, "the workload made no progress").await;
        server.stop();

        // While down: each kind of operation fails as a retryable connection error, in time.
        let c = Some("fault");
        macro_rules! down {
            ($what:literal, $op:expr) => {{
                let started = Instant::now();
                let result = tokio::time::timeout(2 * BOUND, $op)
                    .await
                    .unwrap_or_else(|_| panic!("{} hung while the server was down", $what));
                assert!(
                    started.elapsed() < BOUND,
                    "{} took {:?}",
                    $what,
                    started.elapsed()
                );
                check_down($what, result);
            }};
        }
        down!("get", store.get("k", c));
        down!("get_many", store.get_many(&["a", "b"], c));
        down!("put", store.put("k", num(1), None, c));
        down!(
            "put_many",
            store.put_many(&["a", "b"], vec![num(1), num(2)], None, c)
        );
        down!("delete", store.delete("k", c));
        down!("delete_many", store.delete_many(&["a", "b"], c));
        down!("keys", store.keys(c, None));
        down!("collections", store.collections(None));
        down!("destroy_collection", store.destroy_collection("fault"));

        server.restart().expect("restart redis-server");

        // The same store recovers on its own (the first call may still meet the old
        // connection and fail; no call may take long).
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match store.put("after", num(7), None, c).await {
                Ok(()) => break,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
                    assert!(
                        Instant::now() < deadline,
                        "no recovery after the restart: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert_eq!(store.get("after", c).await.unwrap(), Some(num(7)));
        let before = done.load(Ordering::Relaxed);
        progressed(
            &done,
            before,
            "the workload did not resume after the restart",
        )
        .await;

        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let other_errors = task.await.expect("a workload task panicked");
            assert!(
                other_errors.is_empty(),
                "non-connection errors: {other_errors:?}"
            );
        }
    });
}
