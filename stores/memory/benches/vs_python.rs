//! The memory store under the workloads of `python_memory.py`, for `scripts/bench-vs-python`.
//!
//! ```sh
//! cargo bench -p key-value-memory --bench vs_python -- ops SECONDS
//! cargo bench -p key-value-memory --bench vs_python -- rss ENTRIES
//! ```
//!
//! `ops` prints one line per workload, `memory/<workload> <operations per second>`: get
//! and put of one key, get_many and put_many of 100 keys (100 operations each), and 64
//! concurrent tasks each putting then getting its own key (128 operations). `rss` puts
//! ENTRIES distinct keys into a fresh store and prints the growth of the process's peak
//! resident set per entry, `memory/bytes_per_entry <bytes>`: run it in a process of its
//! own, as the script does. The value is an object whose compact JSON is 100 bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark

use std::sync::Arc;
use std::time::{Duration, Instant};

use key_value_core::prelude::*;
use key_value_memory::MemoryStore;

const BATCH: usize = 100;
const TASKS: usize = 64;

/// The benchmark value: 100 bytes of compact JSON, distinct per `n`.
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
    assert_eq!(serde_json::to_vec(&value).unwrap().len(), 100);
    value
}

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .expect("field in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

async fn rss(entries: usize) {
    let store = MemoryStore::new();
    let values: Vec<JsonObject> = (0..16).map(value).collect();
    let before = status_bytes("VmRSS:");
    for n in 0..entries {
        // A distinct value per entry, as the Python side puts.
        let mut v = values[n % 16].clone();
        v.insert("id".into(), format!("{n:08}").into());
        store
            .put(&format!("key-{n:06}"), v, None, None)
            .await
            .unwrap();
    }
    let peak = status_bytes("VmHWM:");
    assert!(store.get("key-000000", None).await.unwrap().is_some());
    println!(
        "memory/bytes_per_entry {:.1}",
        (peak.saturating_sub(before)) as f64 / entries as f64
    );
}

/// Runs `round` for about `seconds` after a warm-up; prints operations per second.
async fn measure<F, Fut>(name: &str, seconds: f64, ops_per_round: usize, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    // An optional third argument runs one workload alone (for profiling).
    if args().get(2).is_some_and(|only| only != name) {
        return;
    }
    for _ in 0..200 {
        round().await;
    }
    let limit = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < limit {
        for _ in 0..20 {
            round().await;
        }
        rounds += 20;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "memory/{name} {:.0}",
        rounds as f64 * ops_per_round as f64 / elapsed
    );
}

async fn ops(seconds: f64) {
    let store = Arc::new(MemoryStore::new());
    let c = Some("bench");
    let keys: Vec<String> = (0..BATCH).map(|i| format!("k{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values: Vec<JsonObject> = (0..BATCH).map(value).collect();
    let one = value(0);
    store
        .put_many(&keys, values.clone(), None, c)
        .await
        .unwrap();

    measure("get", seconds, 1, || async {
        std::hint::black_box(store.get("k1", c).await.unwrap());
    })
    .await;
    measure("put", seconds, 1, || async {
        store.put("p", one.clone(), None, c).await.unwrap();
    })
    .await;
    measure("get_many_100", seconds, BATCH, || async {
        std::hint::black_box(store.get_many(&keys, c).await.unwrap());
    })
    .await;
    measure("put_many_100", seconds, BATCH, || async {
        store
            .put_many(&keys, values.clone(), None, c)
            .await
            .unwrap();
    })
    .await;
    measure("concurrent_64", seconds, 2 * TASKS, || async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let store = Arc::clone(&store);
                let v = one.clone();
                tokio::spawn(async move {
                    let key = format!("t{task}");
                    store.put(&key, v, None, Some("bench")).await.unwrap();
                    std::hint::black_box(store.get(&key, Some("bench")).await.unwrap());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

/// The arguments, without the `--bench` that `cargo bench` adds.
fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("rss") => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
            runtime.block_on(rss(n));
        }
        _ => {
            let seconds = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2.0);
            runtime.block_on(ops(seconds));
        }
    }
}
