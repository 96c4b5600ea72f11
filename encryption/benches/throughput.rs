//! Put and get of 1 KB and 64 KB values through the Fernet wrapper over the memory
//! store, against the bare memory store. `benches/python_fernet.py` measures
//! py-key-value's wrapper the same way; README.md has the numbers and ratios.
//!
//! Run: `cargo bench -p key-value-fernet --bench throughput`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up fails

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

/// A value whose compact JSON is exactly `size` bytes: `{"blob":"xxx…"}`.
fn value(size: usize) -> JsonObject {
    let Value::Object(value) = json!({"blob": "x".repeat(size - 11)}) else {
        unreachable!()
    };
    assert_eq!(serde_json::to_vec(&value).unwrap().len(), size);
    value
}

fn stores() -> Vec<(&'static str, Box<dyn AsyncKeyValue>)> {
    let key = FernetKey::generate().unwrap();
    vec![
        ("memory", Box::new(MemoryStore::new())),
        (
            "fernet+memory",
            Box::new(FernetWrapper::new(MemoryStore::new(), key)),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (label, size) in [("1KB", 1024), ("64KB", 64 * 1024)] {
        let value = value(size);
        for op in ["put", "get"] {
            let mut group = c.benchmark_group(format!("{op}/{label}"));
            group.throughput(Throughput::Elements(1));
            for (name, store) in stores() {
                runtime
                    .block_on(store.put("k", value.clone(), None, Some("bench")))
                    .unwrap();
                group.bench_function(BenchmarkId::from_parameter(name), |b| match op {
                    "put" => b.iter(|| {
                        runtime
                            .block_on(store.put("k", black_box(value.clone()), None, Some("bench")))
                            .unwrap()
                    }),
                    _ => b.iter(|| {
                        black_box(runtime.block_on(store.get("k", Some("bench"))).unwrap())
                    }),
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
