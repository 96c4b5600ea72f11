//! Python and Rust share one table: py-key-value-aio's `DynamoDBStore` (run by the
//! Python peer) and this crate's store, on moto (py-key-value cannot start on
//! dynalite, which lacks `UpdateTimeToLive`). Each side reads what the other wrote:
//! values exactly, remaining TTLs within rounding, expired entries as missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::time::Duration;

use key_value_core::prelude::*;
use key_value_test_support::dynamodb::Emulator;
use serde_json::{Value, json};

const SCRIPT: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.dynamodb import DynamoDBStore

endpoint, table, collection = sys.argv[1], sys.argv[2], sys.argv[3]

async def main():
    store = DynamoDBStore(
        table_name=table, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="keyvalue-emulator", aws_secret_access_key="keyvalue-emulator",
    )
    async with store:
        seen = {}
        for key in ("rust-plain", "rust-ttl", "rust-missing"):
            value, ttl = await store.ttl(key=key, collection=collection)
            seen[key] = {"value": value, "ttl": ttl}
        await store.put(key="py-plain", value={"n": 1, "s": "caf\u00e9 \U0001F980", "nested": {"l": [1, 2.5, None, True]}}, collection=collection)
        await store.put(key="py-ttl", value={"token": "abc", "big": 18446744073709551615}, collection=collection, ttl=3600)
        await store.put(key="py-expiring", value={"gone": True}, collection=collection, ttl=1)
        print(json.dumps(seen))

asyncio.run(main())
"#;

fn object(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_read_each_others_entries() {
    let test = "key-value-dynamodb python interop";
    let Some(endpoint) = common::endpoint(test, Emulator::Moto) else {
        return;
    };
    let table = common::unique_table("interop");
    let collection = "interop";
    let store = common::store(&endpoint, &table).await;

    let rust_plain = object(json!({"a": [1, {"b": null}], "i": -9223372036854775808i64, "f": 0.1}));
    let rust_ttl = object(json!({"access_token": "t\u{00e9}", "expires_in": 3600}));
    store
        .put("rust-plain", rust_plain.clone(), None, Some(collection))
        .await
        .unwrap();
    store
        .put(
            "rust-ttl",
            rust_ttl.clone(),
            Some(Duration::from_secs(3600)),
            Some(collection),
        )
        .await
        .unwrap();

    let Some(output) =
        key_value_test_support::python::run(test, SCRIPT, &[&endpoint, &table, collection])
    else {
        return;
    };
    let seen: Value = serde_json::from_str(output.trim()).unwrap();

    // Python reads what Rust wrote.
    assert_eq!(seen["rust-plain"]["value"], Value::Object(rust_plain));
    assert_eq!(seen["rust-plain"]["ttl"], Value::Null);
    assert_eq!(seen["rust-ttl"]["value"], Value::Object(rust_ttl));
    let python_ttl = seen["rust-ttl"]["ttl"].as_f64().unwrap();
    // py-key-value takes the whole-second `ttl` attribute, rounded down as it does itself.
    assert!(
        (3590.0..=3600.0).contains(&python_ttl),
        "Python saw a remaining ttl of {python_ttl}"
    );
    assert_eq!(seen["rust-missing"]["value"], Value::Null);

    // Rust reads what Python wrote.
    let (value, ttl) = store
        .ttl("py-plain", Some(collection))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Value::Object(value),
        json!({"n": 1, "s": "caf\u{e9} \u{1F980}", "nested": {"l": [1, 2.5, null, true]}})
    );
    assert_eq!(ttl, None);
    let (value, ttl) = store
        .ttl("py-ttl", Some(collection))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Value::Object(value),
        json!({"token": "abc", "big": 18446744073709551615u64})
    );
    let ttl = ttl.unwrap();
    assert!(
        ttl <= Duration::from_secs(3600) && ttl > Duration::from_secs(3590),
        "Rust saw a remaining ttl of {ttl:?}"
    );

    // moto never deletes expired items: the store must hide them itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.get("py-expiring", Some(collection)).await.unwrap(),
        None
    );
    let mut keys = store.keys(Some(collection), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["py-plain", "py-ttl", "rust-plain", "rust-ttl"]);

    // Both sides wrote the same attributes.
    let raw = store
        .client()
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    for item in &raw {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        let has_ttl = item.contains_key("ttl");
        let expected: &[&str] = if has_ttl {
            &["collection", "key", "ttl", "value"]
        } else {
            &["collection", "key", "value"]
        };
        assert_eq!(names, expected, "attributes of {:?}", item.get("key"));
    }
}
