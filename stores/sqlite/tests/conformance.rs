//! The whole conformance suite against a SQLite store in a fresh database per case, with
//! raw access so the corrupted-data and Python-document cases run.

#![allow(clippy::panic)] // a store that cannot be set up fails the test

use key_value_conformance::{Fixture, RawAccess};
use key_value_core::{Error, ErrorKind, Result, async_trait, parse_timestamp};
use key_value_sqlite::SqliteStore;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};
use serde_json::Value;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

/// Plants a document as a row through a connection of its own: the document's parts go
/// to their columns as py-key-value's fields would map; anything that is not a JSON
/// object document goes into `value` as is, as a corrupted row would hold it.
struct Planter(PathBuf);

/// A timestamp field as its column holds it: microseconds for a timestamp; anything
/// else (a number, a boolean) as text that is no integer, a wrongly typed column (a
/// number's own text would be turned into an integer by the column's affinity).
fn micros(field: Option<&Value>) -> SqlValue {
    let Some(field) = field else {
        return SqlValue::Null;
    };
    let at = field
        .as_str()
        .and_then(parse_timestamp)
        .and_then(|at| i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_micros()).ok());
    match at {
        Some(us) => SqlValue::Integer(us),
        None => SqlValue::Text(format!("{field} (not a timestamp)")),
    }
}

/// The version field as its column holds it: an integer, or (wrongly typed) its text.
fn version(field: Option<&Value>) -> SqlValue {
    match field {
        None => SqlValue::Integer(1),
        Some(v) => v
            .as_i64()
            .map_or_else(|| SqlValue::Text(v.to_string()), SqlValue::Integer),
    }
}

#[async_trait]
impl RawAccess for Planter {
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()> {
        let failed =
            |e: rusqlite::Error| Error::new(ErrorKind::Backend, "planting failed").with_source(e);
        let connection = Connection::open(&self.0).map_err(failed)?;
        let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(document).ok();
        let (value, created, expires, version) = match &parsed {
            Some(doc) if doc.contains_key("value") => (
                match &doc["value"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                },
                micros(doc.get("created_at")),
                micros(doc.get("expires_at")),
                version(doc.get("version")),
            ),
            _ => (
                String::from_utf8_lossy(document).into_owned(),
                SqlValue::Null,
                SqlValue::Null,
                SqlValue::Integer(1),
            ),
        };
        connection
            .execute(
                "INSERT OR REPLACE INTO keyvalue_entries VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![collection, key, value, created, expires, version],
            )
            .map_err(failed)?;
        Ok(())
    }
}

async fn new_store() -> Fixture {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let path = dir.path().join("store.db");
    let store = match SqliteStore::open(&path).await {
        Ok(store) => store,
        Err(e) => panic!("could not open a SQLite store: {e}"),
    };
    Fixture::new(store)
        .with_raw_access(Planter(path))
        .keep_alive(dir)
}

key_value_conformance::suite!(new_store);
