//! Cost growth: the memory, SQLite and disk stores' per-operation cost as they grow.
//!
//! ```sh
//! cargo bench -p key-value --bench growth -- SIZES SECONDS [STORES]
//! cargo bench -p key-value --bench growth -- 1000,100000,1000000 1 memory,sqlite,disk
//! ```
//!
//! For each store (default `memory,sqlite,disk`) one store is filled to each size of
//! SIZES in turn (ascending, by `put_many` of 1,000 distinct keys at a time; 100-byte
//! values as in `key-value-memory`'s `vs_python` bench), and at each size:
//!
//! - `get`: reads of random existing keys for about SECONDS;
//! - `put` and `delete`: rounds of putting 100 new keys (a tenth of the size below
//!   1,000, so the store stays near its size) then deleting them, for about SECONDS;
//! - `keys`, `collections`, `cull`: one call each over the whole store (one collection,
//!   nothing expired: `cull` scans for expired entries and finds none), reported per
//!   entry.
//!
//! It prints `growth <store> <size> <operation> <ns>` lines: ns per operation, or per
//! entry for `keys_per_entry`, `collections_per_entry` and `cull_per_entry`, and the
//! seconds the fill took (`fill_s`). SQLite and disk run at `Durability::ProcessCrash`
//! (no fsync, as the embedded benchmarks run them) in a directory under cargo's target
//! directory, removed at the end (`remove_s`: how long removing the disk store's files
//! took).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use key_value::disk::DiskStore;
use key_value::memory::MemoryStore;
use key_value::sqlite::SqliteStore;
use key_value::{AsyncKeyValue, Durability, JsonObject};

const COLLECTION: &str = "growth";
const FILL_BATCH: usize = 1000;
/// New keys put (then deleted) in one round of the put/delete measurement, at every
/// size from 1,000 up: the same work at each size, so that only the store's size
/// changes. (Rounds of a tenth of the size, up to 1,000, made the values of a round
/// outgrow the CPU caches at the larger sizes: the measurement grew, not the store.)
const ROUND: usize = 100;

/// An object whose compact JSON is 100 bytes, distinct per `n`.
fn value(n: usize) -> JsonObject {
    let value = serde_json::json!({
        "id": format!("{:08}", n % 100_000_000),
        "scope": "read write",
        "blob": "x".repeat(46),
        "n": n % 10,
    });
    let serde_json::Value::Object(value) = value else {
        unreachable!()
    };
    value
}

fn key(n: usize) -> String {
    format!("k{n:08}")
}

/// A small xorshift generator: random keys without a dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn report(store: &str, size: usize, operation: &str, value: f64) {
    println!("growth {store} {size} {operation} {value:.1}");
}

/// Fills `store` from `from` entries to `to`.
async fn fill(store: &dyn AsyncKeyValue, from: usize, to: usize) {
    let mut start = from;
    while start < to {
        let end = (start + FILL_BATCH).min(to);
        let keys: Vec<String> = (start..end).map(key).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = (start..end).map(value).collect();
        store
            .put_many(&refs, values, None, Some(COLLECTION))
            .await
            .unwrap();
        start = end;
    }
}

/// Measures `store` holding `size` entries and prints its lines.
async fn measure(name: &str, store: &dyn AsyncKeyValue, size: usize, budget: Duration) {
    let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ size as u64);

    // Warm up, then random reads.
    for _ in 0..100 {
        store
            .get(&key(random.below(size)), Some(COLLECTION))
            .await
            .unwrap();
    }
    let (mut reads, started) = (0u64, Instant::now());
    while started.elapsed() < budget {
        for _ in 0..16 {
            let got = store.get(&key(random.below(size)), Some(COLLECTION)).await;
            assert!(got.unwrap().is_some());
        }
        reads += 16;
    }
    report(
        name,
        size,
        "get",
        started.elapsed().as_nanos() as f64 / reads as f64,
    );

    // Rounds of new keys put one by one, then deleted one by one.
    let round = (size / 10).clamp(1, ROUND);
    let (mut put_time, mut delete_time, mut ops, mut rounds) =
        (Duration::ZERO, Duration::ZERO, 0u64, 0usize);
    while put_time + delete_time < budget {
        let keys: Vec<String> = (0..round).map(|i| format!("new-{rounds}-{i}")).collect();
        let values: Vec<JsonObject> = (0..round).map(|i| value(size + i)).collect();
        let started = Instant::now();
        for (key, value) in keys.iter().zip(values) {
            store.put(key, value, None, Some(COLLECTION)).await.unwrap();
        }
        put_time += started.elapsed();
        let started = Instant::now();
        for key in &keys {
            assert!(store.delete(key, Some(COLLECTION)).await.unwrap());
        }
        delete_time += started.elapsed();
        ops += round as u64;
        rounds += 1;
    }
    report(name, size, "put", put_time.as_nanos() as f64 / ops as f64);
    report(
        name,
        size,
        "delete",
        delete_time.as_nanos() as f64 / ops as f64,
    );

    // Whole-store operations, once each, per entry.
    let per_entry = |operation: &str, took: Duration| {
        report(name, size, operation, took.as_nanos() as f64 / size as f64);
    };
    let (keys, took) = timed(store.keys(Some(COLLECTION), None)).await;
    assert_eq!(keys.unwrap().len(), size);
    per_entry("keys_per_entry", took);
    let (collections, took) = timed(store.collections(None)).await;
    assert_eq!(collections.unwrap(), [COLLECTION]);
    per_entry("collections_per_entry", took);
    let (culled, took) = timed(store.cull()).await;
    culled.unwrap();
    per_entry("cull_per_entry", took);
}

/// What `future` gives, and how long it took.
async fn timed<T>(future: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = future.await;
    (out, started.elapsed())
}

/// Grows one store through `sizes`, measuring it at each.
async fn run(name: &str, store: &dyn AsyncKeyValue, sizes: &[usize], budget: Duration) {
    let mut filled = 0;
    for &size in sizes {
        let started = Instant::now();
        fill(store, filled, size).await;
        report(name, size, "fill_s", started.elapsed().as_secs_f64());
        filled = size;
        measure(name, store, size, budget).await;
    }
}

/// A fresh directory under cargo's target directory (a real file system, not a tmpfs).
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("growth-{}-{name}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn main() {
    // cargo bench passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let mut sizes: Vec<usize> = args
        .first()
        .map_or("1000,10000", String::as_str)
        .split(',')
        .map(|size| size.parse().expect("SIZES: numbers separated by commas"))
        .collect();
    sizes.sort_unstable();
    assert!(
        sizes.first().is_some_and(|&size| size > 0),
        "sizes must be positive"
    );
    let seconds: f64 = args.get(1).map_or(0.3, |s| s.parse().expect("SECONDS"));
    let budget = Duration::from_secs_f64(seconds);
    let stores = args.get(2).map_or("memory,sqlite,disk", String::as_str);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for name in stores.split(',') {
        runtime.block_on(async {
            match name {
                "memory" => run(name, &MemoryStore::new(), &sizes, budget).await,
                "sqlite" => {
                    let dir = scratch(name);
                    let store = SqliteStore::builder(dir.join("growth.sqlite"))
                        .durability(Durability::ProcessCrash)
                        .open()
                        .await
                        .unwrap();
                    run(name, &store, &sizes, budget).await;
                    store.close().await.unwrap();
                    drop(store);
                    std::fs::remove_dir_all(&dir).unwrap();
                }
                "disk" => {
                    let dir = scratch(name);
                    let store = DiskStore::builder(&dir)
                        .durability(Durability::ProcessCrash)
                        .open()
                        .await
                        .unwrap();
                    run(name, &store, &sizes, budget).await;
                    drop(store);
                    let started = Instant::now();
                    std::fs::remove_dir_all(&dir).unwrap();
                    let largest = sizes.last().copied().unwrap_or_default();
                    report(name, largest, "remove_s", started.elapsed().as_secs_f64());
                }
                other => panic!("unknown store {other}: memory, sqlite or disk"),
            }
        });
    }
}
