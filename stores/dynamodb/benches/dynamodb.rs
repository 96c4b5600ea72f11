//! key-value-dynamodb against the raw AWS SDK doing the same work on the same emulator,
//! and against py-key-value-aio's DynamoDBStore with 64 concurrent tasks.
//!
//! `cargo bench -p key-value-dynamodb --bench dynamodb` runs the criterion groups on
//! dynalite (and the 64-task group on moto), then a side-by-side comparison that prints
//! throughput and ratios measured in this one run. Emulators come from
//! `DYNAMODB_ENDPOINT` (then only that server: no moto group) or
//! `scripts/deps/dynamodb.sh`.
//!
//! The comparison alternates slices of the store and of the SDK (`throughput2`) for
//! `BENCH_INTERLEAVE_SECONDS` per side (default 3), and prints one
//! `interleaved dynamodb/<workload> <store time / SDK time>` line per dynalite workload
//! as well. `scripts/bench-vs-python` runs it on a dynalite of its own with
//! `DYNAMODB_BENCH_NO_PEERS=1` (no py-key-value runs and no moto in the comparison: the
//! script runs py-key-value itself) and `--output-format bencher`, and takes those
//! lines for its last column.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code: failing loudly is the point
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use criterion::{BenchmarkId, Criterion, Throughput};
use futures_util::future::try_join_all;
use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_dynamodb::{DynamoDbStore, emulator_config};
use key_value_test_support::dynamodb::{DynamoDbServer, Emulator};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const COLLECTION: &str = "bench";
const TASKS: usize = 64;

fn value() -> JsonObject {
    json!({
        "access_token": "x".repeat(40),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid profile",
    })
    .as_object()
    .cloned()
    .unwrap()
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// The raw SDK doing what the store does: same item layout and document, same
/// consistent reads, batches chunked the same way (chunks sent concurrently).
#[derive(Clone)]
struct Raw {
    client: Client,
    table: String,
}

impl Raw {
    fn key(key: &str) -> Item {
        Item::from([
            (
                "collection".to_owned(),
                AttributeValue::S(COLLECTION.to_owned()),
            ),
            ("key".to_owned(), AttributeValue::S(key.to_owned())),
        ])
    }

    fn item(key: &str, value: &JsonObject) -> Item {
        let document = json!({"collection": COLLECTION, "key": key, "value": value, "version": 1});
        let mut item = Raw::key(key);
        item.insert("value".to_owned(), AttributeValue::S(document.to_string()));
        item
    }

    fn decode(item: &Item) -> JsonObject {
        let Some(AttributeValue::S(document)) = item.get("value") else {
            panic!("no value");
        };
        let Value::Object(mut document) = serde_json::from_str(document).unwrap() else {
            panic!("not an object");
        };
        match document.remove("value") {
            Some(Value::Object(value)) => value,
            _ => panic!("no value object"),
        }
    }

    async fn put(&self, key: &str, value: &JsonObject) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Raw::item(key, value)))
            .send()
            .await
            .unwrap();
    }

    async fn get(&self, key: &str) -> Option<JsonObject> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Raw::key(key)))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item.as_ref().map(Raw::decode)
    }

    async fn put_many(&self, keys: &[String], values: Vec<JsonObject>) {
        let pairs: Vec<(&String, JsonObject)> = keys.iter().zip(values).collect();
        let chunks = pairs.chunks(25).map(|chunk| {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(key, value)| {
                    let put = PutRequest::builder()
                        .set_item(Some(Raw::item(key, value)))
                        .build()
                        .unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            self.client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
        });
        for out in try_join_all(chunks).await.unwrap() {
            assert!(out.unprocessed_items.unwrap_or_default().is_empty());
        }
    }

    async fn get_many(&self, keys: &[String]) -> Vec<JsonObject> {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(|key| Raw::key(key)).collect()))
            .consistent_read(true)
            .build()
            .unwrap();
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .unwrap();
        let items = out.responses.unwrap().remove(&self.table).unwrap();
        items.iter().map(Raw::decode).collect()
    }
}

struct Target {
    _server: Option<DynamoDbServer>,
    store: Arc<DynamoDbStore>,
    raw: Raw,
    endpoint: String,
}

fn target(runtime: &Runtime, emulator: Emulator) -> Option<Target> {
    let (server, endpoint) = match key_value_test_support::dynamodb::endpoint_from_env() {
        Some(endpoint) => (None, endpoint),
        None => {
            let server = emulator.start("key-value-dynamodb benchmark")?;
            let endpoint = server.endpoint().to_owned();
            (Some(server), endpoint)
        }
    };
    let table = format!("kv-bench-{}", emulator.name());
    let (store, client) = runtime.block_on(async {
        let config = emulator_config(&endpoint).await;
        let store = DynamoDbStore::new(&config, &table).await.unwrap();
        let client = store.client().clone();
        (store, client)
    });
    Some(Target {
        _server: server,
        store: Arc::new(store),
        raw: Raw { client, table },
        endpoint,
    })
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

async fn store_round(store: Arc<DynamoDbStore>, task: usize) {
    let key = format!("task-{task}");
    store
        .put(&key, value(), None, Some(COLLECTION))
        .await
        .unwrap();
    assert!(store.get(&key, Some(COLLECTION)).await.unwrap().is_some());
}

async fn raw_round(raw: Raw, task: usize) {
    let key = format!("task-{task}");
    raw.put(&key, &value()).await;
    assert!(raw.get(&key).await.is_some());
}

/// `TASKS` tasks, each doing one put and one get of its own key.
async fn concurrent<F, Fut>(round: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..TASKS).map(|task| tokio::spawn(round(task))).collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn single_ops(c: &mut Criterion, runtime: &Runtime, t: &Target) {
    let store = t.store.clone();
    let raw = t.raw.clone();
    runtime.block_on(async {
        store
            .put("one", value(), None, Some(COLLECTION))
            .await
            .unwrap();
        raw.put("one-raw", &value()).await;
    });
    let mut group = c.benchmark_group("dynalite/get");
    group.bench_function("store", |b| {
        b.to_async(runtime)
            .iter(|| async { store.get("one", Some(COLLECTION)).await.unwrap().unwrap() })
    });
    group.bench_function("sdk", |b| {
        b.to_async(runtime)
            .iter(|| async { raw.get("one-raw").await.unwrap() })
    });
    group.finish();

    let mut group = c.benchmark_group("dynalite/put");
    group.bench_function("store", |b| {
        b.to_async(runtime).iter(|| async {
            store
                .put("one", value(), None, Some(COLLECTION))
                .await
                .unwrap()
        })
    });
    group.bench_function("sdk", |b| {
        b.to_async(runtime)
            .iter(|| async { raw.put("one-raw", &value()).await })
    });
    group.finish();
}

fn batch_ops(c: &mut Criterion, runtime: &Runtime, t: &Target) {
    let store = t.store.clone();
    let raw = t.raw.clone();
    let names = keys("many", 100);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let values = vec![value(); 100];
    runtime.block_on(async {
        store
            .put_many(&refs, values.clone(), None, Some(COLLECTION))
            .await
            .unwrap();
    });
    let mut group = c.benchmark_group("dynalite/put_many_100");
    group.throughput(Throughput::Elements(100));
    group.bench_function("store", |b| {
        b.to_async(runtime).iter(|| async {
            store
                .put_many(&refs, values.clone(), None, Some(COLLECTION))
                .await
                .unwrap()
        })
    });
    group.bench_function("sdk", |b| {
        b.to_async(runtime)
            .iter(|| async { raw.put_many(&names, values.clone()).await })
    });
    group.finish();

    let mut group = c.benchmark_group("dynalite/get_many_100");
    group.throughput(Throughput::Elements(100));
    group.bench_function("store", |b| {
        b.to_async(runtime).iter(|| async {
            let got = store.get_many(&refs, Some(COLLECTION)).await.unwrap();
            assert!(got.iter().all(Option::is_some));
        })
    });
    group.bench_function("sdk", |b| {
        b.to_async(runtime).iter(|| async {
            assert_eq!(raw.get_many(&names).await.len(), 100);
        })
    });
    group.finish();
}

fn concurrent_ops(c: &mut Criterion, runtime: &Runtime, t: &Target, label: &str) {
    let mut group = c.benchmark_group(format!("{label}/concurrent_64_put_get"));
    group.throughput(Throughput::Elements((TASKS * 2) as u64));
    let store = t.store.clone();
    group.bench_function(BenchmarkId::from_parameter("store"), |b| {
        b.to_async(runtime)
            .iter(|| concurrent(|task| store_round(store.clone(), task)))
    });
    let raw = t.raw.clone();
    group.bench_function(BenchmarkId::from_parameter("sdk"), |b| {
        b.to_async(runtime)
            .iter(|| concurrent(|task| raw_round(raw.clone(), task)))
    });
    group.finish();
}

/// Operations per second of `a` and of `b` (each doing `ops` operations), measured in
/// alternating slices over about `budget` each, so that load from elsewhere on the
/// machine weighs on both alike.
fn throughput2<FutA: Future<Output = ()>, FutB: Future<Output = ()>>(
    runtime: &Runtime,
    ops: usize,
    budget: Duration,
    a: impl Fn() -> FutA,
    b: impl Fn() -> FutB,
) -> (f64, f64) {
    const SLICES: u32 = 6;
    runtime.block_on(async {
        a().await; // warm up
        b().await;
        let slice = budget / SLICES;
        let (mut a_time, mut a_ops, mut b_time, mut b_ops) = (Duration::ZERO, 0, Duration::ZERO, 0);
        for _ in 0..SLICES {
            let started = Instant::now();
            while started.elapsed() < slice {
                a().await;
                a_ops += ops;
            }
            a_time += started.elapsed();
            let started = Instant::now();
            while started.elapsed() < slice {
                b().await;
                b_ops += ops;
            }
            b_time += started.elapsed();
        }
        (
            a_ops as f64 / a_time.as_secs_f64(),
            b_ops as f64 / b_time.as_secs_f64(),
        )
    })
}

/// Runs the Python store's benchmark script; its operations per second.
fn python_throughput(endpoint: &str, table: &str, extra: &[&str]) -> Option<f64> {
    let tasks = TASKS.to_string();
    let mut args = vec![endpoint, table, tasks.as_str(), "10"];
    args.extend_from_slice(extra);
    let output = key_value_test_support::python::run(
        "key-value-dynamodb benchmark (python)",
        include_str!("python_store.py"),
        &args,
    )?;
    let report: Value = serde_json::from_str(output.trim()).unwrap();
    report["ops_per_second"].as_f64()
}

/// One run, side by side: store against SDK on each dynalite workload, in alternating
/// slices of `budget` per side; with `peers`, py-key-value's store with 64 tasks too,
/// and moto's 64-task comparison.
fn compare(
    runtime: &Runtime,
    dynalite: &Target,
    moto: Option<&Target>,
    budget: Duration,
    peers: bool,
) {
    println!(
        "\n== comparison (one run, {:.1} s per side, alternating slices) ==",
        budget.as_secs_f64()
    );
    // `workload`: the name scripts/bench-vs-python gives a dynalite workload, for the
    // `interleaved` line of its last column.
    let line = |name: &str, workload: Option<&str>, (store, sdk): (f64, f64)| {
        println!(
            "{name:<32} store {store:>8.0} ops/s   raw SDK {sdk:>8.0} ops/s   store time / SDK time {:.3}",
            sdk / store
        );
        if let Some(workload) = workload {
            println!("interleaved dynamodb/{workload} {:.3}", sdk / store);
        }
        store
    };
    let (store, raw) = (dynalite.store.clone(), dynalite.raw.clone());
    line(
        "dynalite get",
        Some("get"),
        throughput2(
            runtime,
            1,
            budget,
            || async {
                store.get("one", Some(COLLECTION)).await.unwrap();
            },
            || async {
                raw.get("one-raw").await;
            },
        ),
    );
    line(
        "dynalite put",
        Some("put"),
        throughput2(
            runtime,
            1,
            budget,
            || async {
                store
                    .put("one", value(), None, Some(COLLECTION))
                    .await
                    .unwrap()
            },
            || async { raw.put("one-raw", &value()).await },
        ),
    );
    let names = keys("many", 100);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    line(
        "dynalite get_many(100), entries",
        Some("get_many_100"),
        throughput2(
            runtime,
            100,
            budget,
            || async {
                store.get_many(&refs, Some(COLLECTION)).await.unwrap();
            },
            || async {
                raw.get_many(&names).await;
            },
        ),
    );
    line(
        "dynalite put_many(100), entries",
        Some("put_many_100"),
        throughput2(
            runtime,
            100,
            budget,
            || async {
                store
                    .put_many(&refs, vec![value(); 100], None, Some(COLLECTION))
                    .await
                    .unwrap();
            },
            || async { raw.put_many(&names, vec![value(); 100]).await },
        ),
    );
    let rust_dynalite = line(
        "dynalite 64 tasks put+get",
        Some("concurrent_64"),
        throughput2(
            runtime,
            TASKS * 2,
            budget,
            || concurrent(|task| store_round(store.clone(), task)),
            || concurrent(|task| raw_round(raw.clone(), task)),
        ),
    );
    if !peers {
        return;
    }
    if let Some(python) =
        python_throughput(&dynalite.endpoint, "kv-bench-python", &["--no-ttl-setup"])
    {
        println!(
            "{:<32} py-key-value {python:>8.0} ops/s   store / py-key-value throughput {:.2}",
            "dynalite 64 tasks put+get",
            rust_dynalite / python
        );
    }

    let Some(moto) = moto else {
        println!("moto is not available: no comparison on moto");
        return;
    };
    let (store, raw) = (moto.store.clone(), moto.raw.clone());
    let rust_moto = line(
        "moto 64 tasks put+get",
        None,
        throughput2(
            runtime,
            TASKS * 2,
            budget,
            || concurrent(|task| store_round(store.clone(), task)),
            || concurrent(|task| raw_round(raw.clone(), task)),
        ),
    );
    if let Some(python) = python_throughput(&moto.endpoint, "kv-bench-python", &[]) {
        println!(
            "{:<32} py-key-value {python:>8.0} ops/s   store / py-key-value throughput {:.2}",
            "moto 64 tasks put+get",
            rust_moto / python
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(dynalite) = target(&runtime, Emulator::Dynalite) else {
        return;
    };
    // With DYNAMODB_ENDPOINT, `target` would give that same server again.
    let moto = match key_value_test_support::dynamodb::endpoint_from_env() {
        Some(_) => None,
        None => target(&runtime, Emulator::Moto),
    };
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    single_ops(&mut c, &runtime, &dynalite);
    batch_ops(&mut c, &runtime, &dynalite);
    concurrent_ops(&mut c, &runtime, &dynalite, "dynalite");
    if let Some(moto) = &moto {
        concurrent_ops(&mut c, &runtime, moto, "moto");
    }
    c.final_summary();
    let budget = std::env::var("BENCH_INTERLEAVE_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .map_or(Duration::from_secs(3), Duration::from_secs_f64);
    let peers = std::env::var_os("DYNAMODB_BENCH_NO_PEERS").is_none();
    compare(&runtime, &dynalite, moto.as_ref(), budget, peers);
}
