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
    // Remaining lifetimes are checked against the time since the writes: Python's
    // start-up takes seconds, more on a loaded machine.
    let written = std::time::Instant::now();

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
    // py-key-value takes the whole-second `ttl` attribute, rounded down as it does itself:
    // up to a second less than the time since the write leaves.
    let least = 3600.0 - written.elapsed().as_secs_f64() - 1.0;
    assert!(
        (least..=3600.0).contains(&python_ttl),
        "Python saw a remaining ttl of {python_ttl}, {:?} after the write",
        written.elapsed()
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

/// Rust and py-key-value over one DynamoDB, both ways, byte for byte, over the
/// hostile-name corpus and edge values, on both emulators: Rust's entries in one table,
/// Python's in another, compared item by item.
mod corpus {
    use std::sync::Arc;

    use aws_sdk_dynamodb::types::AttributeValue;
    use key_value_core::{AsyncKeyValue, async_trait};
    use key_value_dynamodb::DynamoDbStore;
    use key_value_fernet::{FernetKey, FernetWrapper};
    use key_value_test_support::dynamodb::Emulator;
    use key_value_test_support::python::{
        PythonPeer, Sealing, StoredForm, StoredForms, check_interop, interop_corpus,
    };

    /// DynamoDB's limit on a sort key, in bytes: longer names are stored as digests
    /// (by this crate; py-key-value cannot store them at all).
    const SORT_KEY_MAX_BYTES: usize = 1024;

    /// Python's store on the emulator. On dynalite, which has no `DescribeTimeToLive`,
    /// py-key-value's start-up check of the table's TTL setting is answered as enabled
    /// (the check is all it cannot do there; the item layout is the same).
    fn peer_imports(emulator: Emulator) -> String {
        let mut imports = "from key_value.aio.stores.dynamodb import DynamoDBStore\n".to_owned();
        if emulator == Emulator::Dynalite {
            imports.push_str(
                "import key_value.aio.stores.dynamodb.store as _dynamodb_store\n\
                 async def _ttl_enabled(client, table_name):\n    return \"ENABLED\"\n\
                 _dynamodb_store._describe_dynamodb_ttl = _ttl_enabled\n",
            );
        }
        imports
    }

    fn peer_store(endpoint: &str) -> String {
        format!(
            "DynamoDBStore(table_name=target, region_name=\"us-east-1\", endpoint_url=\"{endpoint}\", \
             aws_access_key_id=\"keyvalue-emulator\", aws_secret_access_key=\"keyvalue-emulator\")"
        )
    }

    /// Raw `GetItem`: the `value` attribute, and the other attributes rendered as
    /// `name=TYPE:value` (the `ttl` number as `ttl=N`: it is a time).
    struct RawItems(aws_sdk_dynamodb::Client);

    #[async_trait]
    impl StoredForms for RawItems {
        async fn stored(&self, table: &str, collection: &str, key: &str) -> Option<StoredForm> {
            let item = self
                .0
                .get_item()
                .table_name(table)
                .key("collection", AttributeValue::S(collection.to_owned()))
                .key("key", AttributeValue::S(key.to_owned()))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item?;
            let Some(AttributeValue::S(document)) = item.get("value") else {
                panic!("an item without a `value` string");
            };
            let mut rest: Vec<String> = item
                .iter()
                .filter(|(name, _)| name.as_str() != "value")
                .map(|(name, value)| match (name.as_str(), value) {
                    ("ttl", AttributeValue::N(_)) => "ttl=N".to_owned(),
                    (name, AttributeValue::S(text)) => format!("{name}=S:{text}"),
                    (name, AttributeValue::N(number)) => format!("{name}=N:{number}"),
                    (name, other) => format!("{name}={other:?}"),
                })
                .collect();
            rest.sort();
            Some(StoredForm {
                document: document.clone(),
                rest: rest.join("; "),
            })
        }
    }

    fn wrap(store: DynamoDbStore, key: Option<&FernetKey>) -> Arc<dyn AsyncKeyValue> {
        match key {
            None => Arc::new(store),
            Some(key) => Arc::new(FernetWrapper::new(store, key.clone())),
        }
    }

    async fn both_ways(emulator: Emulator, sealing: Sealing, key: Option<FernetKey>) {
        let test = format!("dynamodb interop corpus on {}", emulator.name());
        let Some(endpoint) = super::common::endpoint(&test, emulator) else {
            return;
        };
        let rust_table = super::common::unique_table("interop-rust");
        let python_table = super::common::unique_table("interop-py");
        let rust_store = super::common::store(&endpoint, &rust_table).await;
        let client = rust_store.client().clone();
        let rust_store = wrap(rust_store, key.as_ref());
        let python_view = wrap(
            super::common::store(&endpoint, &python_table).await,
            key.as_ref(),
        );
        let imports = peer_imports(emulator);
        let store = peer_store(&endpoint);
        let peer = PythonPeer {
            imports: &imports,
            store: &store,
        };
        let corpus = interop_corpus(SORT_KEY_MAX_BYTES);
        check_interop(
            &test,
            &peer,
            &sealing,
            &corpus,
            &rust_table,
            &*rust_store,
            &python_table,
            &*python_view,
            &RawItems(client),
        )
        .await;

        let mut keys = python_view.keys(Some("interop"), None).await.unwrap();
        keys.sort();
        let mut expected: Vec<String> = corpus
            .iter()
            .filter(|e| e.collection == "interop")
            .map(|e| e.key.clone())
            .collect();
        expected.sort();
        assert_eq!(
            keys, expected,
            "{test}: keys of Python's `interop` collection"
        );
    }

    fn fernet_key() -> (Sealing, FernetKey) {
        let key = FernetKey::generate().unwrap();
        let sealing = Sealing::FernetKey {
            key: key.to_base64().to_string(),
        };
        (sealing, key)
    }

    fn password_key() -> (Sealing, FernetKey) {
        let (password, salt) = ("correct horse battery staple", "key-value-rs interop salt");
        let key = FernetKey::derive_from_password(password, salt).unwrap();
        let sealing = Sealing::Password {
            password: password.to_owned(),
            salt: salt.to_owned(),
            key: key.to_base64().to_string(),
        };
        (sealing, key)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_plain_moto() {
        both_ways(Emulator::Moto, Sealing::Plain, None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_plain_dynalite() {
        both_ways(Emulator::Dynalite, Sealing::Plain, None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_key_moto() {
        let (sealing, key) = fernet_key();
        both_ways(Emulator::Moto, sealing, Some(key)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_key_dynalite() {
        let (sealing, key) = fernet_key();
        both_ways(Emulator::Dynalite, sealing, Some(key)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_password_moto() {
        let (sealing, key) = password_key();
        both_ways(Emulator::Moto, sealing, Some(key)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_password_dynalite() {
        let (sealing, key) = password_key();
        both_ways(Emulator::Dynalite, sealing, Some(key)).await;
    }
}
