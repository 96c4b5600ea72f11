//! Opening a store on a table that another process has just created and DynamoDB still
//! reports as CREATING: the store waits until the table is active instead of failing
//! its first writes. A private dynalite keeps new tables CREATING for a while, as
//! DynamoDB does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::time::Duration;

use key_value_core::prelude::*;
use key_value_dynamodb::aws_sdk_dynamodb::Client;
use key_value_dynamodb::aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use key_value_dynamodb::{DynamoDbStore, emulator_config};
use key_value_test_support::dynamodb::Emulator;
use serde_json::json;

/// How long the emulator keeps a new table CREATING: long enough that the store
/// certainly meets that state, short enough for a quick test.
const TABLE_DELAY: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_waits_for_a_table_another_process_is_creating() {
    let test = "key-value-dynamodb table still creating";
    let Some(server) = Emulator::Dynalite.start_with_table_delay(test, TABLE_DELAY) else {
        return;
    };
    let config = emulator_config(server.endpoint()).await;
    let table = common::unique_table("creating");

    // "Another process": the raw SDK creates the table with the store's key schema.
    let other = Client::new(&config);
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    other
        .create_table()
        .table_name(&table)
        .key_schema(key("collection", KeyType::Hash))
        .key_schema(key("key", KeyType::Range))
        .attribute_definitions(string("collection"))
        .attribute_definitions(string("key"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    // The emulator really holds the table in CREATING, so the store meets that state.
    let described = other
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.table.and_then(|t| t.table_status),
        Some(TableStatus::Creating)
    );

    let store = DynamoDbStore::new(&config, &table).await.unwrap();
    let value = json!({"ready": true}).as_object().cloned().unwrap();
    store.put("k", value.clone(), None, None).await.unwrap();
    assert_eq!(store.get("k", None).await.unwrap(), Some(value));
}
