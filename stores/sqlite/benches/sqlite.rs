//! The SQLite store against rusqlite doing the same work, from async code.
//!
//! `cargo bench -p key-value-sqlite --bench sqlite`. Three contenders per operation:
//! - `store`: `SqliteStore` (Durability::ProcessCrash: WAL with `synchronous = NORMAL`,
//!   like the baselines);
//! - `raw_async`: rusqlite running the same statements on the same schema and pragmas,
//!   on tokio's blocking pool as an async program must: the fair baseline;
//! - `raw_sync`: the same statements called directly, a lower bound.
//!
//! `scripts/bench-embedded` runs this, the disk bench and py-key-value's DiskStore, and
//! prints the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use key_value_core::Durability;
use key_value_core::prelude::*;
use key_value_sqlite::SqliteStore;
use rusqlite::{Connection, params};

fn token() -> JsonObject {
    serde_json::json!({
        "access_token": "a".repeat(120), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "r".repeat(60), "scope": "read write"
    })
    .as_object()
    .cloned()
    .unwrap()
}

const UPSERT: &str = "INSERT INTO keyvalue_entries (collection, key, value, created_at, expires_at, version)
     VALUES (?1, ?2, ?3, ?4, NULL, 1)
     ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value,
     created_at = excluded.created_at, expires_at = excluded.expires_at, version = excluded.version";
const SELECT: &str = "SELECT value, created_at, expires_at, version FROM keyvalue_entries WHERE collection = ?1 AND key = ?2";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn raw_put(connection: &Connection, key: &str, value: &JsonObject) {
    let text = serde_json::to_string(value).unwrap();
    connection
        .prepare_cached(UPSERT)
        .unwrap()
        .execute(params!["c", key, text, now()])
        .unwrap();
}

fn raw_get(connection: &Connection, key: &str) -> JsonObject {
    let text: String = connection
        .prepare_cached(SELECT)
        .unwrap()
        .query_row(params!["c", key], |row| row.get(0))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(async {
        SqliteStore::builder(dir.path().join("store.db"))
            .durability(Durability::ProcessCrash)
            .open()
            .await
            .unwrap()
    });
    // The baseline: its own file, the same schema (made by a store) and pragmas.
    let raw_path = dir.path().join("raw.db");
    runtime.block_on(async { drop(SqliteStore::open(&raw_path).await.unwrap()) });
    let connection = Connection::open(&raw_path).unwrap();
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .unwrap();
    let raw = Arc::new(Mutex::new(connection));

    let value = token();
    let keys: Vec<String> = (0..100).map(|i| format!("key-{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    runtime.block_on(async {
        store
            .put_many(&key_refs, vec![value.clone(); 100], None, Some("c"))
            .await
            .unwrap();
    });
    for key in &keys {
        raw_put(&raw.lock().unwrap(), key, &value);
    }

    let mut group = c.benchmark_group("sqlite/get");
    group.bench_function("store", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.get("key-7", Some("c")).await.unwrap() })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let raw = Arc::clone(&raw);
            async move {
                tokio::task::spawn_blocking(move || raw_get(&raw.lock().unwrap(), "key-7"))
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("raw_sync", |b| {
        b.iter(|| raw_get(&raw.lock().unwrap(), "key-7"))
    });
    group.finish();

    let mut group = c.benchmark_group("sqlite/put");
    group.bench_function("store", |b| {
        b.to_async(&runtime).iter(|| async {
            store
                .put("key-7", value.clone(), None, Some("c"))
                .await
                .unwrap()
        })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let (raw, value) = (Arc::clone(&raw), value.clone());
            async move {
                tokio::task::spawn_blocking(move || raw_put(&raw.lock().unwrap(), "key-7", &value))
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("raw_sync", |b| {
        b.iter(|| raw_put(&raw.lock().unwrap(), "key-7", &value))
    });
    group.finish();

    let mut group = c.benchmark_group("sqlite/get_many_100");
    group.bench_function("store", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.get_many(&key_refs, Some("c")).await.unwrap() })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let (raw, keys) = (Arc::clone(&raw), keys.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut connection = raw.lock().unwrap();
                    let transaction = connection.transaction().unwrap();
                    let values: Vec<_> = keys.iter().map(|k| raw_get(&transaction, k)).collect();
                    transaction.finish().unwrap();
                    values
                })
                .await
                .unwrap()
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sqlite/put_many_100");
    group.bench_function("store", |b| {
        b.to_async(&runtime).iter(|| async {
            store
                .put_many(&key_refs, vec![value.clone(); 100], None, Some("c"))
                .await
                .unwrap()
        })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let (raw, keys, value) = (Arc::clone(&raw), keys.clone(), value.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut connection = raw.lock().unwrap();
                    let transaction = connection.transaction().unwrap();
                    keys.iter().for_each(|k| raw_put(&transaction, k, &value));
                    transaction.commit().unwrap();
                })
                .await
                .unwrap()
            }
        })
    });
    group.finish();

    // The default, power-loss-safe mode: `synchronous = FULL`.
    let durable = runtime.block_on(async {
        SqliteStore::open(dir.path().join("durable.db"))
            .await
            .unwrap()
    });
    let mut group = c.benchmark_group("sqlite/put_power_loss_safe");
    group.sample_size(20);
    group.bench_function("store", |b| {
        b.to_async(&runtime).iter(|| async {
            durable
                .put("key-7", value.clone(), None, Some("c"))
                .await
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
