//! The logging layer: the conformance suite over the memory store, and what its events
//! hold (and never hold: values).

#![cfg(feature = "logging")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{faulty, obj};
use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
use key_value_layers::logging::Logging;
use key_value_memory::MemoryStore;
use serde_json::json;

async fn logged_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Logging::new())
}

key_value_conformance::suite!(logged_memory_store);

/// Captures what a `tracing` formatter writes on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

const SECRET: &str = "s3cr3t-access-token";

#[tokio::test]
async fn logs_operations_with_key_collection_outcome_and_duration_never_values() {
    let (captured, _guard) = capture();
    let store = MemoryStore::new().layer(Logging::new());
    store
        .put(
            "user-1",
            obj(json!({"token": SECRET})),
            None,
            Some("tokens"),
        )
        .await
        .unwrap();
    store.get("user-1", Some("tokens")).await.unwrap();
    store.get("user-2", None).await.unwrap();
    store
        .get_many(&["user-1", "user-2"], Some("tokens"))
        .await
        .unwrap();
    store.ttl("user-1", Some("tokens")).await.unwrap();
    store
        .put_many(
            &["a"],
            vec![obj(json!({"token": SECRET}))],
            None,
            Some("tokens"),
        )
        .await
        .unwrap();
    store.delete("user-1", Some("tokens")).await.unwrap();
    let text = captured.text();
    assert!(!text.contains(SECRET), "a value was logged:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(
        lines.iter().all(|l| l.contains("INFO")
            && l.contains("store=\"memory\"")
            && l.contains("duration_us=")),
        "{text}"
    );
    assert!(
        lines[0].contains("operation=\"put\"")
            && lines[0].contains("key=\"user-1\"")
            && lines[0].contains("collection=\"tokens\"")
            && lines[0].contains("outcome=\"ok\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("operation=\"get\"") && lines[1].contains("outcome=\"hit\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("outcome=\"miss\"")
            && lines[2].contains("collection=\"default_collection\""),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("operation=\"get_many\"")
            && lines[3].contains("keys=2")
            && lines[3].contains("count=1"),
        "{}",
        lines[3]
    );
    assert!(
        lines[6].contains("operation=\"delete\"") && lines[6].contains("outcome=\"true\""),
        "{}",
        lines[6]
    );
}

#[tokio::test]
async fn failures_are_logged_at_warn_with_their_kind() {
    let (captured, _guard) = capture();
    let (store, faults) = faulty();
    let store = store.layer(Logging::new().level(tracing::Level::DEBUG));
    faults.fail(1, ErrorKind::Connection);
    store
        .put("k", obj(json!({"token": SECRET})), None, Some("c"))
        .await
        .unwrap_err();
    store.keys(Some("c"), None).await.unwrap();
    let text = captured.text();
    assert!(!text.contains(SECRET), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("WARN")
            && lines[0].contains("outcome=\"error\"")
            && lines[0].contains("error_kind=connection failed")
            && lines[0].contains("store=\"faulty\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("DEBUG") && lines[1].contains("operation=\"keys\""),
        "{}",
        lines[1]
    );
}
