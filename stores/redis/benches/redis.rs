//! `RedisStore` against the raw `redis` client doing the same work on the same server.
//!
//! `cargo bench -p key-value-redis --bench redis` (a `redis-server` is started on a free
//! port unless `REDIS_URL` is set). Each group has two contenders:
//! - `store`: `RedisStore` (entry documents, the `collection::key` layout);
//! - `raw`: a `ConnectionManager` doing the same work by hand: the same commands (`SET`,
//!   `GET`, one `MGET`, one `MULTI`/`EXEC` pipeline of `SET`s) with the same stored
//!   documents, encoded and decoded with `Entry::to_document` / `Entry::from_document`
//!   as any program sharing data with py-key-value must.
//!
//! The `codec` group shows what that shared document format costs per entry against
//! plain `serde_json` of the value alone.
//!
//! Criterion measures `store` and `raw` in separate windows, seconds apart, and the load
//! of a shared machine moves between them. So each group is then measured interleaved:
//! rounds of a few `store` operations and a few `raw` ones alternate (which goes first
//! alternating too) for `BENCH_INTERLEAVE_SECONDS` (default 3), and a line
//! `interleaved redis/<group> <ratio>` gives the median of the rounds' store/raw time
//! ratios: the figure to compare with the 1.2x target (`scripts/bench-vs-python` puts
//! it in its last column).
//!
//! `concurrent_64` runs 64 tokio tasks at once, each a `put` then a `get` of its own key
//! (128 operations per iteration); `benches/python_redis.py` runs py-key-value's
//! RedisStore the same way for the side-by-side ratio (see the README).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use key_value_core::Entry;
use key_value_core::prelude::*;
use key_value_redis::RedisStore;
use key_value_redis::redis::{self, aio::ConnectionManager};

const BATCH: usize = 100;
const TASKS: usize = 64;

fn token(n: usize) -> JsonObject {
    serde_json::json!({
        "access_token": "a".repeat(120), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "r".repeat(60), "scope": "read write", "n": n
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn document(key: &str, value: &JsonObject) -> String {
    let entry = Entry {
        value: value.clone(),
        created_at: Some(SystemTime::now()),
        expires_at: None,
    };
    entry.to_document("bench", key).unwrap()
}

async fn raw_put(conn: &mut ConnectionManager, key: &str, value: &JsonObject) {
    redis::cmd("SET")
        .arg(key)
        .arg(document(key, value))
        .exec_async(conn)
        .await
        .unwrap();
}

async fn raw_get(conn: &mut ConnectionManager, key: &str) -> JsonObject {
    let bytes: Vec<u8> = redis::cmd("GET").arg(key).query_async(conn).await.unwrap();
    Entry::from_document(&bytes).unwrap().value
}

/// One group, `store` against `raw`. Every measurement runs both, alternately, and
/// reports one of them, so that both see the same load on a shared machine (separate
/// runs drift by more than the difference being measured).
fn paired<S, SF, R, RF>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    elements: u64,
    store_op: S,
    raw_op: R,
) where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: Fn() -> RF,
    RF: Future<Output = ()>,
{
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    for (label, report_store) in [("store", true), ("raw", false)] {
        group.bench_function(label, |b| {
            b.to_async(runtime).iter_custom(|iters| {
                let (store_op, raw_op) = (&store_op, &raw_op);
                async move {
                    let (mut store_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
                    for _ in 0..iters {
                        let started = Instant::now();
                        store_op().await;
                        store_time += started.elapsed();
                        let started = Instant::now();
                        raw_op().await;
                        raw_time += started.elapsed();
                    }
                    if report_store { store_time } else { raw_time }
                }
            })
        });
    }
    group.finish();
    interleaved(runtime, name, elements, &store_op, &raw_op);
}

/// Prints the median of per-round store/raw time ratios, rounds alternating.
fn interleaved<S, SF, R, RF>(
    runtime: &tokio::runtime::Runtime,
    name: &str,
    elements: u64,
    store_op: &S,
    raw_op: &R,
) where
    S: Fn() -> SF,
    SF: Future<Output = ()>,
    R: Fn() -> RF,
    RF: Future<Output = ()>,
{
    let seconds: f64 = std::env::var("BENCH_INTERLEAVE_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3.0);
    // A round of single operations is 20 of them, so that a round is a few ms.
    let per_round = if elements == 1 { 20 } else { 2 };
    let mut ratios = Vec::new();
    runtime.block_on(async {
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < until || ratios.len() < 3 {
            let store_first = ratios.len() % 2 == 0;
            let (mut store_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
            for side in [store_first, !store_first] {
                let started = Instant::now();
                for _ in 0..per_round {
                    if side {
                        store_op().await
                    } else {
                        raw_op().await
                    }
                }
                if side {
                    store_time = started.elapsed();
                } else {
                    raw_time = started.elapsed();
                }
            }
            ratios.push(store_time.as_secs_f64() / raw_time.as_secs_f64());
        }
    });
    ratios.sort_by(f64::total_cmp);
    println!(
        "interleaved redis/{name} {:.3} ({} rounds)",
        ratios[ratios.len() / 2],
        ratios.len()
    );
}

fn benches(c: &mut Criterion) {
    let server = key_value_test_support::redis::single("key-value-redis bench")
        .expect("no Redis for the benchmark (install redis-server or set REDIS_URL)");
    let url = server.urls()[0].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(runtime.block_on(RedisStore::connect(&url)).unwrap());
    let raw = runtime.block_on(async {
        ConnectionManager::new(redis::Client::open(url.as_str()).unwrap())
            .await
            .unwrap()
    });
    let keys: Vec<String> = (0..BATCH).map(|i| format!("k{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let raw_keys: Vec<String> = keys.iter().map(|key| format!("raw::{key}")).collect();
    let values: Vec<JsonObject> = (0..BATCH).map(token).collect();
    let value = token(0);
    runtime.block_on(async {
        store
            .put_many(&key_refs, values.clone(), None, Some("bench"))
            .await
            .unwrap();
        let mut conn = raw.clone();
        for (key, value) in raw_keys.iter().zip(&values) {
            raw_put(&mut conn, key, value).await;
        }
    });
    let (store, raw, value, values) = (&store, &raw, &value, &values);
    let (key_refs, raw_keys) = (&key_refs, &raw_keys);

    paired(
        c,
        &runtime,
        "get",
        1,
        || async {
            store.get("k1", Some("bench")).await.unwrap().unwrap();
        },
        || async {
            raw_get(&mut raw.clone(), "raw::k1").await;
        },
    );

    paired(
        c,
        &runtime,
        "put",
        1,
        || async {
            store
                .put("p", value.clone(), None, Some("bench"))
                .await
                .unwrap()
        },
        || async { raw_put(&mut raw.clone(), "raw::p", value).await },
    );

    paired(
        c,
        &runtime,
        "get_many_100",
        BATCH as u64,
        || async {
            let found = store.get_many(key_refs, Some("bench")).await.unwrap();
            assert!(found.iter().all(Option::is_some));
        },
        || async {
            let found: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(raw_keys)
                .query_async(&mut raw.clone())
                .await
                .unwrap();
            let values: Vec<JsonObject> = found
                .into_iter()
                .map(|bytes| Entry::from_document(&bytes.unwrap()).unwrap().value)
                .collect();
            assert_eq!(values.len(), BATCH);
        },
    );

    paired(
        c,
        &runtime,
        "put_many_100",
        BATCH as u64,
        || async {
            store
                .put_many(key_refs, values.clone(), None, Some("bench"))
                .await
                .unwrap()
        },
        || async {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (key, value) in raw_keys.iter().zip(values) {
                pipe.cmd("SET").arg(key).arg(document(key, value)).ignore();
            }
            pipe.exec_async(&mut raw.clone()).await.unwrap();
        },
    );

    paired(
        c,
        &runtime,
        "concurrent_64",
        2 * TASKS as u64,
        || async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let (store, value) = (Arc::clone(store), value.clone());
                    tokio::spawn(async move {
                        let key = format!("t{task}");
                        store.put(&key, value, None, Some("bench")).await.unwrap();
                        store.get(&key, Some("bench")).await.unwrap().unwrap();
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        },
        || async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let (mut conn, value) = (raw.clone(), value.clone());
                    tokio::spawn(async move {
                        let key = format!("raw::t{task}");
                        raw_put(&mut conn, &key, &value).await;
                        raw_get(&mut conn, &key).await;
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        },
    );

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    let stored = document("k", value);
    let plain = serde_json::to_vec(value).unwrap();
    group.bench_function("to_document", |b| {
        b.iter(|| document(black_box("k"), value))
    });
    group.bench_function("serde_json_to_vec", |b| {
        b.iter(|| serde_json::to_vec(black_box(value)).unwrap())
    });
    group.bench_function("from_document", |b| {
        b.iter(|| Entry::from_document(black_box(stored.as_bytes())).unwrap())
    });
    group.bench_function("serde_json_from_slice", |b| {
        b.iter(|| serde_json::from_slice::<JsonObject>(black_box(&plain)).unwrap())
    });
    group.finish();

    runtime.block_on(async {
        store.destroy_collection("bench").await.unwrap();
        let mut del = redis::cmd("DEL");
        del.arg(raw_keys).arg("raw::p");
        for task in 0..TASKS {
            del.arg(format!("raw::t{task}"));
        }
        del.exec_async(&mut raw.clone()).await.unwrap();
    });
    drop(server);
}

criterion_group!(redis_benches, benches);
criterion_main!(redis_benches);
