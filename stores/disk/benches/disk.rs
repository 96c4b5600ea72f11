//! The disk store against plain files doing the same work, from async code.
//!
//! `cargo bench -p key-value-disk --bench disk`. Three contenders per operation:
//! - `store`: `DiskStore` (Durability::ProcessCrash, like the baselines);
//! - `raw_async`: the same file work (encode the document, write a temporary file,
//!   rename it; read and decode) on tokio's blocking pool, as any async program must run
//!   blocking file calls: the fair baseline;
//! - `raw_sync`: the same file work called directly, a lower bound no async store reaches;
//! - `naive_rename_sync` (put only): a rename over the old entry instead of an exchange.
//!
//! `scripts/bench-embedded` runs this, the SQLite bench and py-key-value's DiskStore,
//! and prints the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use key_value_core::prelude::*;
use key_value_core::{Durability, Entry};
use key_value_disk::DiskStore;

fn token() -> JsonObject {
    serde_json::json!({
        "access_token": "a".repeat(120), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "r".repeat(60), "scope": "read write"
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// The baseline's file work: one document per file, written to a temporary file that
/// then takes the entry's place atomically, the way the store does it (an exchange on
/// Linux, a rename elsewhere or for a new entry).
fn raw_put(dir: &Path, name: &str, value: &JsonObject) {
    let entry = Entry {
        value: value.clone(),
        created_at: Some(SystemTime::now()),
        expires_at: None,
    };
    let document = entry.to_document("c", name).unwrap();
    let temp = dir.join(format!(".tmp-{name}"));
    std::fs::write(&temp, document).unwrap();
    let target = dir.join(name);
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        if renameat_with(CWD, &temp, CWD, &target, RenameFlags::EXCHANGE).is_ok() {
            std::fs::remove_file(&temp).unwrap();
            return;
        }
    }
    std::fs::rename(&temp, &target).unwrap();
}

/// The textbook way (rename over the old entry), to show what the exchange saves.
fn naive_put(dir: &Path, name: &str, value: &JsonObject) {
    let entry = Entry {
        value: value.clone(),
        created_at: Some(SystemTime::now()),
        expires_at: None,
    };
    let temp = dir.join(format!(".tmp-{name}"));
    std::fs::write(&temp, entry.to_document("c", name).unwrap()).unwrap();
    std::fs::rename(&temp, dir.join(name)).unwrap();
}

fn raw_get(dir: &Path, name: &str) -> JsonObject {
    Entry::from_document(&std::fs::read(dir.join(name)).unwrap())
        .unwrap()
        .value
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw_dir: Arc<PathBuf> = Arc::new(dir.path().join("raw"));
    std::fs::create_dir_all(&*raw_dir).unwrap();
    let store = runtime.block_on(async {
        DiskStore::builder(dir.path().join("store"))
            .durability(Durability::ProcessCrash)
            .open()
            .await
            .unwrap()
    });
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
        raw_put(&raw_dir, key, &value);
    }

    let mut group = c.benchmark_group("disk/get");
    group.bench_function("store", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.get("key-7", Some("c")).await.unwrap() })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let dir = Arc::clone(&raw_dir);
            async move {
                tokio::task::spawn_blocking(move || raw_get(&dir, "key-7"))
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("raw_sync", |b| b.iter(|| raw_get(&raw_dir, "key-7")));
    group.finish();

    let mut group = c.benchmark_group("disk/put");
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
            let (dir, value) = (Arc::clone(&raw_dir), value.clone());
            async move {
                tokio::task::spawn_blocking(move || raw_put(&dir, "key-7", &value))
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("raw_sync", |b| {
        b.iter(|| raw_put(&raw_dir, "key-7", &value))
    });
    group.bench_function("naive_rename_sync", |b| {
        b.iter(|| naive_put(&raw_dir, "key-7", &value))
    });
    group.finish();

    let mut group = c.benchmark_group("disk/get_many_100");
    group.bench_function("store", |b| {
        b.to_async(&runtime)
            .iter(|| async { store.get_many(&key_refs, Some("c")).await.unwrap() })
    });
    group.bench_function("raw_async", |b| {
        b.to_async(&runtime).iter(|| {
            let (dir, keys) = (Arc::clone(&raw_dir), keys.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    keys.iter().map(|k| raw_get(&dir, k)).collect::<Vec<_>>()
                })
                .await
                .unwrap()
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("disk/put_many_100");
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
            let (dir, keys, value) = (Arc::clone(&raw_dir), keys.clone(), value.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    keys.iter().for_each(|k| raw_put(&dir, k, &value))
                })
                .await
                .unwrap()
            }
        })
    });
    group.finish();

    // The default, power-loss-safe mode: every write is flushed (file and directory).
    let durable =
        runtime.block_on(async { DiskStore::open(dir.path().join("durable")).await.unwrap() });
    let mut group = c.benchmark_group("disk/put_power_loss_safe");
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
