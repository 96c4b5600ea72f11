//! The memory store under the workloads of `python_memory.py`, for `scripts/bench-vs-python`.
//!
//! ```sh
//! cargo bench -p key-value-memory --bench vs_python -- ops SECONDS [WORKLOAD]
//! cargo bench -p key-value-memory --bench vs_python -- serve
//! cargo bench -p key-value-memory --bench vs_python -- rss ENTRIES
//! ```
//!
//! `ops` prints one line per workload, `memory/<workload> <operations per second>
//! <per second of CPU time>`: get and put of one key, get_many and put_many of 100
//! keys (100 operations each), and 64 concurrent tasks each putting then getting its
//! own key (128 operations), spawned on tokio's multi-threaded runtime
//! (`concurrent_64`) and on a current-thread one (`concurrent_64_one_thread`, the
//! way asyncio runs Python's 64 tasks); `spawn_64_no_store` spawns and joins the same
//! 64 tasks on the multi-threaded runtime with no store in them, the runtime's own
//! share of `concurrent_64`. `serve` reads lines `<workload> <seconds>`
//! on stdin and answers each with that line, so that `interleave.py` alternates it
//! with the Python side in short slices. `rss` puts ENTRIES distinct keys into a
//! fresh store and prints the growth of the process's peak resident set per entry,
//! `memory/bytes_per_entry <bytes>`: run it in a process of its own, as the script
//! does. The value is an object whose compact JSON is 100 bytes.

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

/// The data the workloads share: one store, filled once.
struct Bench {
    store: Arc<MemoryStore>,
    keys: Vec<&'static str>,
    values: Vec<JsonObject>,
    one: JsonObject,
}

impl Bench {
    async fn new() -> Bench {
        let keys: Vec<&'static str> = (0..BATCH)
            .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
            .collect();
        let values: Vec<JsonObject> = (0..BATCH).map(value).collect();
        let store = Arc::new(MemoryStore::new());
        store
            .put_many(&keys, values.clone(), None, COLLECTION)
            .await
            .unwrap();
        Bench {
            store,
            keys,
            values,
            one: value(0),
        }
    }

    /// One round of `workload`; returns its number of operations.
    async fn round(&self, workload: &str) -> usize {
        let (store, c) = (&self.store, COLLECTION);
        match workload {
            "get" => {
                std::hint::black_box(store.get("k1", c).await.unwrap());
                1
            }
            "put" => {
                store.put("p", self.one.clone(), None, c).await.unwrap();
                1
            }
            "get_many_100" => {
                std::hint::black_box(store.get_many(&self.keys, c).await.unwrap());
                BATCH
            }
            "put_many_100" => {
                let values = self.values.clone();
                store.put_many(&self.keys, values, None, c).await.unwrap();
                BATCH
            }
            // The same round for the first two: the runtime it runs on differs (see
            // `runtime_for`). `spawn_64_no_store` spawns and joins the same tasks with no
            // store in them (counted as the same operations): the runtime's own share.
            "concurrent_64" | "concurrent_64_one_thread" | "spawn_64_no_store" => {
                let with_store = workload != "spawn_64_no_store";
                let tasks: Vec<_> = (0..TASKS)
                    .map(|task| {
                        let work = with_store.then(|| (Arc::clone(store), self.one.clone()));
                        tokio::spawn(async move {
                            let Some((store, v)) = work else {
                                std::hint::black_box(task);
                                return;
                            };
                            let key = format!("t{task}");
                            store.put(&key, v, None, COLLECTION).await.unwrap();
                            std::hint::black_box(store.get(&key, COLLECTION).await.unwrap());
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                2 * TASKS
            }
            other => panic!("no workload {other}"),
        }
    }

    /// Runs `workload` for about `seconds` (after a warm-up if asked); prints
    /// operations per second.
    async fn measure(&self, workload: &str, seconds: f64, warm_up: bool) {
        if warm_up {
            for _ in 0..200 {
                self.round(workload).await;
            }
        }
        let limit = Duration::from_secs_f64(seconds);
        let cpu = cpu_seconds();
        let started = Instant::now();
        let mut operations = 0usize;
        while started.elapsed() < limit {
            for _ in 0..20 {
                operations += self.round(workload).await;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        println!(
            "memory/{workload} {:.0} {:.0}",
            operations as f64 / elapsed,
            operations as f64 / cpu
        );
    }
}

const COLLECTION: Option<&str> = Some("bench");

/// The CPU time this process has used, in seconds. Unlike the wall clock, it leaves out
/// the time the hypervisor takes from a virtual machine's CPUs (steal), as Python's
/// `time.process_time` does.
fn cpu_seconds() -> f64 {
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    used.tv_sec as f64 + used.tv_nsec as f64 * 1e-9
}

/// Every workload, in the order `ops` runs them.
const WORKLOADS: [&str; 7] = [
    "get",
    "put",
    "get_many_100",
    "put_many_100",
    "concurrent_64",
    "concurrent_64_one_thread",
    "spawn_64_no_store",
];

/// The runtimes a workload may run on: tokio's multi-threaded one (a worker per core,
/// as a server runs) and a current-thread one, where the 64 tasks take turns on one
/// thread as asyncio's event loop runs Python's.
struct Runtimes {
    multi_thread: tokio::runtime::Runtime,
    one_thread: tokio::runtime::Runtime,
}

impl Runtimes {
    fn new() -> Runtimes {
        Runtimes {
            multi_thread: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
            one_thread: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn runtime_for(&self, workload: &str) -> &tokio::runtime::Runtime {
        if workload == "concurrent_64_one_thread" {
            &self.one_thread
        } else {
            &self.multi_thread
        }
    }
}

/// Measures each workload once for `seconds`, or, with `serve`, each line `<workload>
/// <seconds>` read on stdin (warmed up the first time it is asked for).
fn ops(runtimes: &Runtimes, seconds: Option<f64>) {
    let bench = runtimes.multi_thread.block_on(Bench::new());
    let only = args().get(2).cloned();
    let Some(seconds) = seconds else {
        let mut warm = std::collections::HashSet::new();
        for line in std::io::stdin().lines() {
            let line = line.unwrap();
            let mut words = line.split_whitespace();
            let (Some(workload), Some(seconds)) = (words.next(), words.next()) else {
                panic!("expected `<workload> <seconds>`, got {line:?}");
            };
            let seconds: f64 = seconds.parse().unwrap();
            let warm_up = warm.insert(workload.to_owned());
            runtimes
                .runtime_for(workload)
                .block_on(bench.measure(workload, seconds, warm_up));
        }
        return;
    };
    for workload in WORKLOADS {
        // An optional third argument runs one workload alone (for profiling).
        if only.as_deref().is_some_and(|only| only != workload) {
            continue;
        }
        runtimes
            .runtime_for(workload)
            .block_on(bench.measure(workload, seconds, true));
    }
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
    let runtimes = Runtimes::new();
    match args.first().map(String::as_str) {
        Some("rss") => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
            runtimes.multi_thread.block_on(rss(n));
        }
        Some("serve") => ops(&runtimes, None),
        _ => {
            let seconds = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2.0);
            ops(&runtimes, Some(seconds));
        }
    }
}
