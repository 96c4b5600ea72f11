//! The compression layer: the conformance suite over the memory store (with a small
//! threshold, so most values are compressed), the envelope against py-key-value's real
//! `CompressionWrapper` both ways, and stored envelopes that cannot be opened.

#![cfg(feature = "compression")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, LayerExt};
use key_value_layers::compression::{Compression, DATA_FIELD};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

fn obj(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

async fn compressing_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Compression::new().min_size(16))
}

key_value_conformance::suite!(compressing_memory_store);

/// Values on both sides of the threshold: ASCII, unicode (escaped by Python), nested,
/// numeric edges, and one that holds the envelope's own field name.
fn values() -> Vec<JsonObject> {
    vec![
        obj(json!({"small": 1})),
        obj(json!({"text": "abc ".repeat(400), "n": [1, 2, 3]})),
        obj(json!({"unicode": "é€😀 ".repeat(300), "nested": {"a": [null, true, false]}})),
        obj(json!({"ints": [i64::MIN, u64::MAX, 0], "pad": "z".repeat(2000), "f": 0.5})),
        obj(json!({"z": 1, "a": 2, "m": "ordered ".repeat(200)})),
    ]
}

const PEER: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.memory import MemoryStore
from key_value.aio.wrappers.compression import CompressionWrapper

async def main():
    mode, data = sys.argv[1], json.loads(sys.argv[2])
    raw = MemoryStore()
    wrapped = CompressionWrapper(key_value=raw)
    out = []
    for i, value in enumerate(data):
        if mode == "write":
            await wrapped.put(key=f"k{i}", value=value, collection="c")
            out.append(await raw.get(key=f"k{i}", collection="c"))
        else:
            await raw.put(key=f"k{i}", value=value, collection="c")
            out.append(await wrapped.get(key=f"k{i}", collection="c"))
    print(json.dumps(out))

asyncio.run(main())
"#;

/// Runs the peer on `data` (JSON in its second argument); `None` when Python is not
/// installed.
fn python(test: &str, mode: &str, data: &[JsonObject]) -> Option<Vec<JsonObject>> {
    let data = serde_json::to_string(data).unwrap();
    let out = key_value_test_support::python::run(test, PEER, &[mode, &data])?;
    let values: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
    Some(
        values
            .into_iter()
            .map(|v| v.as_object().cloned().unwrap())
            .collect(),
    )
}

#[tokio::test]
async fn python_writes_and_rust_reads() {
    let Some(envelopes) = python("compression_python_writes", "write", &values()) else {
        return;
    };
    // Python compressed exactly the values of 1024 bytes or more.
    assert!(!envelopes[0].contains_key(DATA_FIELD));
    assert!(
        envelopes[1..].iter().all(|e| e.contains_key(DATA_FIELD)),
        "{envelopes:?}"
    );
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Compression::new());
    for (i, envelope) in envelopes.into_iter().enumerate() {
        inner
            .put(&format!("k{i}"), envelope, None, Some("c"))
            .await
            .unwrap();
    }
    for (i, value) in values().into_iter().enumerate() {
        assert_eq!(
            store.get(&format!("k{i}"), Some("c")).await.unwrap(),
            Some(value),
            "value {i}"
        );
    }
}

#[tokio::test]
async fn rust_writes_and_python_reads() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Compression::new());
    let mut envelopes = Vec::new();
    for (i, value) in values().into_iter().enumerate() {
        store
            .put(&format!("k{i}"), value, None, Some("c"))
            .await
            .unwrap();
        envelopes.push(
            inner
                .get(&format!("k{i}"), Some("c"))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(!envelopes[0].contains_key(DATA_FIELD));
    assert!(envelopes[1..].iter().all(|e| e.contains_key(DATA_FIELD)));
    assert_eq!(envelopes[1]["__compression_algorithm__"], json!("gzip"));
    assert_eq!(envelopes[1]["__compression_version__"], json!(1));
    let Some(read) = python("compression_rust_writes", "read", &envelopes) else {
        return;
    };
    assert_eq!(read, values());
}

#[tokio::test]
async fn the_threshold_and_a_value_holding_the_envelope_field() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner.clone().layer(Compression::new());
    let small = obj(json!({"v": "x".repeat(900)}));
    store.put("small", small.clone(), None, None).await.unwrap();
    assert_eq!(inner.get("small", None).await.unwrap(), Some(small));
    // Under the threshold, but it would read as an envelope if stored as it is.
    let tricky = obj(json!({DATA_FIELD: "not base64!", "x": 1}));
    store
        .put("tricky", tricky.clone(), None, None)
        .await
        .unwrap();
    assert_eq!(store.get("tricky", None).await.unwrap(), Some(tricky));
    let stored = inner.get("tricky", None).await.unwrap().unwrap();
    assert_ne!(stored[DATA_FIELD], json!("not base64!"));
}

fn gzip(bytes: &[u8]) -> String {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    STANDARD.encode(encoder.finish().unwrap())
}

#[tokio::test]
async fn envelopes_that_cannot_be_opened_are_errors_for_their_key_alone() {
    let inner = Arc::new(MemoryStore::new());
    let store = inner
        .clone()
        .layer(Compression::new().max_decompressed_size(1 << 16));
    let bad = [
        ("not-a-string", json!({DATA_FIELD: 5})),
        ("not-base64", json!({DATA_FIELD: "%%%"})),
        (
            "not-gzip",
            json!({DATA_FIELD: STANDARD.encode(b"plain bytes")}),
        ),
        ("not-json", json!({DATA_FIELD: gzip(b"{nope")})),
        ("not-an-object", json!({DATA_FIELD: gzip(b"[1, 2]")})),
        (
            "newer-version",
            json!({DATA_FIELD: gzip(b"{}"), "__compression_version__": 2}),
        ),
        (
            "other-algorithm",
            json!({DATA_FIELD: gzip(b"{}"), "__compression_algorithm__": "zstd"}),
        ),
        // A bomb: 1 MiB of zeros in a small stream, over the 64 KiB bound.
        ("too-large", json!({DATA_FIELD: gzip(&vec![b' '; 1 << 20])})),
    ];
    for (key, envelope) in &bad {
        inner
            .put(key, obj(envelope.clone()), None, None)
            .await
            .unwrap();
    }
    inner
        .put("fine", obj(json!({"ok": true})), None, None)
        .await
        .unwrap();
    for (key, _) in &bad {
        let err = store.get(key, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deserialization, "{key}: {err}");
        assert_eq!(err.key(), Some(*key));
    }
    assert_eq!(
        store.get("fine", None).await.unwrap(),
        Some(obj(json!({"ok": true})))
    );
    let keys: Vec<&str> = bad.iter().map(|(k, _)| *k).collect();
    assert!(store.get_many(&keys, None).await.is_err());
    assert_eq!(store.keys(None, None).await.unwrap().len(), bad.len() + 1);
}
