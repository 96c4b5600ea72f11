//! The cost of the layer machinery: five empty layers (each implements only
//! `inner_store`, so every operation forwards) over the memory store, against the bare
//! memory store, for `get` and `put`. Target: under 10 % overhead.
//!
//! `cargo bench -p key-value-layers --bench empty_stack`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use key_value_core::{AsyncKeyValue, JsonObject, Layer, LayerExt};
use key_value_memory::MemoryStore;
use serde_json::json;

/// A layer that changes nothing.
struct Empty;

struct EmptyStore<S>(S);

impl<S: AsyncKeyValue> Layer<S> for Empty {
    type Store = EmptyStore<S>;
    fn layer(&self, inner: S) -> EmptyStore<S> {
        EmptyStore(inner)
    }
}

impl<S: AsyncKeyValue> AsyncKeyValue for EmptyStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
}

fn value() -> JsonObject {
    json!({"access_token": "abc", "expires_in": 3600})
        .as_object()
        .cloned()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bare = MemoryStore::new();
    let stacked = MemoryStore::new()
        .layer(Empty)
        .layer(Empty)
        .layer(Empty)
        .layer(Empty)
        .layer(Empty);
    rt.block_on(async {
        bare.put("k", value(), None, Some("c")).await.unwrap();
        stacked.put("k", value(), None, Some("c")).await.unwrap();
    });

    let mut group = c.benchmark_group("get");
    group.bench_function("bare", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(bare.get(black_box("k"), Some("c")).await.unwrap()) })
    });
    group.bench_function("five_empty_layers", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(stacked.get(black_box("k"), Some("c")).await.unwrap()) })
    });
    group.finish();

    let mut group = c.benchmark_group("put");
    let v = value();
    group.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| async {
            bare.put(black_box("k"), v.clone(), None, Some("c"))
                .await
                .unwrap()
        })
    });
    group.bench_function("five_empty_layers", |b| {
        b.to_async(&rt).iter(|| async {
            stacked
                .put(black_box("k"), v.clone(), None, Some("c"))
                .await
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
