//! What the DynamoDB test files share: an endpoint per emulator, stores on it, and raw
//! access for the conformance suite.

#![allow(dead_code)] // each test file uses part of this module
#![allow(clippy::expect_used, clippy::panic)] // a store that cannot be built fails the test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use key_value_conformance::{Fixture, RawAccess};
use key_value_core::{Result, async_trait};
use key_value_dynamodb::{DynamoDbStore, emulator_config};
use key_value_test_support::dynamodb::{self, Emulator};

/// The table used when the endpoint comes from `DYNAMODB_ENDPOINT` (a server that
/// outlives the run, so no table per case there).
pub const SHARED_TABLE: &str = "key-value-rs-tests";

/// The endpoint for `emulator` (or `DYNAMODB_ENDPOINT`); `None` after a loud skip.
pub fn endpoint(test: &str, emulator: Emulator) -> Option<String> {
    dynamodb::shared(test, emulator)
}

/// A table name no other test process uses.
pub fn unique_table(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!(
        "kv-{label}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store in `table` at `endpoint`.
pub async fn store(endpoint: &str, table: &str) -> DynamoDbStore {
    let config = emulator_config(endpoint).await;
    match DynamoDbStore::new(&config, table).await {
        Ok(store) => store,
        Err(e) => panic!("could not open the DynamoDB store at {endpoint}: {e}"),
    }
}

/// Plants raw documents through the store's `put_document`.
struct Raw(Arc<DynamoDbStore>);

#[async_trait]
impl RawAccess for Raw {
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()> {
        let document = String::from_utf8_lossy(document);
        self.0.put_document(Some(collection), key, &document).await
    }
}

/// A conformance fixture on `emulator`: a fresh table per case on a local emulator
/// (so the case that destroys the whole store runs too), one shared table on a
/// server from `DYNAMODB_ENDPOINT`.
pub async fn fixture(emulator: Emulator) -> Fixture {
    let test = format!("key-value-dynamodb conformance on {}", emulator.name());
    let Some(endpoint) = endpoint(&test, emulator) else {
        return Fixture::skip(format!(
            "no {} emulator and no DYNAMODB_ENDPOINT",
            emulator.name()
        ));
    };
    let from_env = dynamodb::endpoint_from_env().is_some();
    let table = if from_env {
        SHARED_TABLE.to_owned()
    } else {
        unique_table(emulator.name())
    };
    let store = Arc::new(store(&endpoint, &table).await);
    let fixture = Fixture::from_arc(store.clone()).with_raw_access(Raw(store));
    if from_env { fixture.shared() } else { fixture }
}
