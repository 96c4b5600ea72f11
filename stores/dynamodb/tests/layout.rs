//! The stored layout: py-key-value's attributes, names kept as written within
//! DynamoDB's key limits and mapped beyond them, TTL rounding, table setup options.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::prelude::*;
use key_value_core::{AsyncKeyValue, Entry};
use key_value_dynamodb::aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use key_value_dynamodb::{DynamoDbStore, emulator_config};
use key_value_test_support::dynamodb::Emulator;
use serde_json::json;

fn value() -> JsonObject {
    json!({"a": 1}).as_object().cloned().unwrap()
}

async fn items(store: &DynamoDbStore) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let out = store
        .client()
        .scan()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("attribute {name} is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_have_py_key_value_layout_and_rounded_down_ttl() {
    let Some(endpoint) = common::endpoint("key-value-dynamodb layout", Emulator::Dynalite) else {
        return;
    };
    let store = common::store(&endpoint, &common::unique_table("layout")).await;
    let longest_kept = "k".repeat(1024);
    store
        .put(
            &longest_kept,
            value(),
            Some(Duration::from_millis(10_500)),
            Some("c::1"),
        )
        .await
        .unwrap();
    let before = SystemTime::now();
    let items = items(&store).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["collection", "key", "ttl", "value"]);
    assert_eq!(text(item, "collection"), "c::1");
    assert_eq!(text(item, "key"), longest_kept);
    let entry = Entry::from_document(text(item, "value").as_bytes()).unwrap();
    assert_eq!(entry.value, value());
    let expires_at = entry.expires_at.unwrap();
    let Some(AttributeValue::N(ttl)) = item.get("ttl") else {
        panic!("no ttl number");
    };
    let ttl: u64 = ttl.parse().unwrap();
    let exact = expires_at.duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(
        ttl,
        exact.as_secs(),
        "whole seconds, rounded down as py-key-value does"
    );
    assert!(expires_at > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_over_dynamodb_limits_are_mapped_and_listed_as_written() {
    let Some(endpoint) = common::endpoint("key-value-dynamodb long names", Emulator::Dynalite)
    else {
        return;
    };
    let store = common::store(&endpoint, &common::unique_table("names")).await;
    let collection = format!("{}\u{1F980}", "c".repeat(2046)); // 2050 bytes
    let long_key = "k".repeat(4096);
    let near_key = format!("{}x", "k".repeat(1024)); // 1025 bytes
    let keys = [long_key.as_str(), near_key.as_str(), "short"];
    store
        .put_many(
            &keys,
            vec![value(), value(), value()],
            None,
            Some(&collection),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_many(&keys, Some(&collection)).await.unwrap(),
        vec![Some(value()), Some(value()), Some(value())]
    );
    let mut listed = store.keys(Some(&collection), None).await.unwrap();
    listed.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        store.collections(None).await.unwrap(),
        vec![collection.clone()]
    );
    for item in items(&store).await {
        let stored_collection = text(&item, "collection");
        assert!(stored_collection.starts_with('\0') && stored_collection.len() <= 2048);
        assert_eq!(text(&item, "original_collection"), collection);
        let stored_key = text(&item, "key");
        if stored_key == "short" {
            assert!(!item.contains_key("original_key"));
        } else {
            assert!(stored_key.starts_with('\0') && stored_key.len() <= 1024);
            assert!(keys.contains(&text(&item, "original_key").as_str()));
        }
    }
    assert_eq!(
        store.delete_many(&keys, Some(&collection)).await.unwrap(),
        3
    );
    assert!(items(&store).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_batches_are_chunked() {
    let Some(endpoint) = common::endpoint("key-value-dynamodb big batches", Emulator::Dynalite)
    else {
        return;
    };
    let store = common::store(&endpoint, &common::unique_table("chunks")).await;
    let keys: Vec<String> = (0..260).map(|i| format!("k{}", i % 230)).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values: Vec<JsonObject> = (0..260)
        .map(|i| json!({"i": i}).as_object().cloned().unwrap())
        .collect();
    store.put_many(&keys, values, None, None).await.unwrap();
    let read = store.get_many(&keys, None).await.unwrap();
    for (i, slot) in read.iter().enumerate() {
        // Keys 230..260 repeat 0..30: the later value won.
        let winner = if i % 230 < 30 { i % 230 + 230 } else { i };
        assert_eq!(slot.as_ref().unwrap()["i"], winner, "slot {i}");
    }
    assert_eq!(store.keys(None, None).await.unwrap().len(), 230);
    assert_eq!(store.keys(None, Some(7)).await.unwrap().len(), 7);
    assert!(
        store
            .destroy_collection("default_collection")
            .await
            .unwrap()
    );
    assert!(store.keys(None, None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_enabled_where_the_service_supports_it() {
    let test = "key-value-dynamodb ttl setup";
    let Some(moto) = common::endpoint(test, Emulator::Moto) else {
        return;
    };
    let store = common::store(&moto, &common::unique_table("ttl")).await;
    let out = store
        .client()
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let description = out.time_to_live_description.unwrap();
    assert_eq!(
        description.time_to_live_status(),
        Some(&TimeToLiveStatus::Enabled)
    );
    assert_eq!(description.attribute_name(), Some("ttl"));

    let table = common::unique_table("nottl");
    let store = DynamoDbStore::builder(&table)
        .sdk_config(&emulator_config(&moto).await)
        .enable_ttl(false)
        .build()
        .await
        .unwrap();
    let out = store
        .client()
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.time_to_live_description.unwrap().time_to_live_status(),
        Some(&TimeToLiveStatus::Disabled)
    );

    // dynalite has no UpdateTimeToLive: the store warns and works.
    let Some(dynalite) = common::endpoint(test, Emulator::Dynalite) else {
        return;
    };
    let store = common::store(&dynalite, &common::unique_table("nottl")).await;
    store
        .put("k", value(), Some(Duration::from_secs(60)), None)
        .await
        .unwrap();
    assert_eq!(store.get("k", None).await.unwrap(), Some(value()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_what_cannot_work() {
    let Some(endpoint) = common::endpoint("key-value-dynamodb setup", Emulator::Dynalite) else {
        return;
    };
    let config = emulator_config(&endpoint).await;
    let missing = DynamoDbStore::builder(common::unique_table("missing"))
        .sdk_config(&config)
        .auto_create(false)
        .build()
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Setup, "{missing}");
    assert!(missing.to_string().contains("does not exist"), "{missing}");

    let bad_name = DynamoDbStore::new(&config, "no").await.unwrap_err();
    assert_eq!(bad_name.kind(), ErrorKind::Setup, "{bad_name}");

    // A table with another key schema is refused, not misused.
    let table = common::unique_table("schema");
    use key_value_dynamodb::aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let store_client = key_value_dynamodb::aws_sdk_dynamodb::Client::new(&config);
    store_client
        .create_table()
        .table_name(&table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let err = DynamoDbStore::new(&config, &table).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");

    // An unreachable endpoint is a retryable connection error.
    let port = key_value_test_support::free_port().unwrap();
    let nowhere = emulator_config(&format!("http://127.0.0.1:{port}")).await;
    let err = DynamoDbStore::new(&nowhere, "keyvalue").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_is_a_shareable_dyn_store() {
    let Some(endpoint) = common::endpoint("key-value-dynamodb dyn", Emulator::Dynalite) else {
        return;
    };
    let store: std::sync::Arc<dyn AsyncKeyValue> =
        std::sync::Arc::new(common::store(&endpoint, &common::unique_table("dyn")).await);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                store.put(&key, value(), None, Some("dyn")).await.unwrap();
                store.get(&key, Some("dyn")).await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Some(value()));
    }
    let debug = format!(
        "{:?}",
        common::store(&endpoint, &common::unique_table("dbg")).await
    );
    assert!(
        debug.contains("DynamoDbStore") && !debug.contains("keyvalue-emulator"),
        "{debug}"
    );
}
