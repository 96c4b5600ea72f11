//! The floor under the Fernet wrapper (`floor/mod.rs`): the primitives alone making and
//! opening the stored bytes of `throughput.rs`'s values, with no store and no JSON.
//! Used by `scripts/bench-vs-python` for the limit column.
//!
//! Run: `cargo bench -p key-value-fernet --bench fernet_floor`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up fails

mod floor;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let keys = floor::Keys::new();
    for (label, size) in [("1KB", 1024), ("64KB", 64 * 1024)] {
        let plain = floor::plaintext(size);
        let stored = keys.seal(&plain);
        assert_eq!(keys.open(&stored)[16..], plain);
        let mut group = c.benchmark_group(format!("put/{label}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("primitives"), |b| {
            b.iter(|| black_box(keys.seal(black_box(&plain))))
        });
        group.finish();
        let mut group = c.benchmark_group(format!("get/{label}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("primitives"), |b| {
            b.iter(|| black_box(keys.open(black_box(&stored))))
        });
        group.finish();
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
