//! The floor under the Fernet wrapper: the `fernet` crate alone (AES-128-CBC,
//! HMAC-SHA256, URL-safe base64) sealing and opening the same plaintext bytes the
//! wrapper seals for `throughput.rs`'s values, with no store and no JSON. Used by
//! `scripts/bench-vs-python` for the limit column.
//!
//! Run: `cargo bench -p key-value-fernet --bench fernet_floor`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up fails

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The plaintext of `throughput.rs`'s value of `size` bytes: its compact JSON.
fn plaintext(size: usize) -> Vec<u8> {
    let text = format!("{{\"blob\":\"{}\"}}", "x".repeat(size - 11));
    assert_eq!(text.len(), size);
    text.into_bytes()
}

fn bench(c: &mut Criterion) {
    let fernet = fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap();
    for (label, size) in [("1KB", 1024), ("64KB", 64 * 1024)] {
        let plain = plaintext(size);
        let token = fernet.encrypt(&plain);
        let mut group = c.benchmark_group(format!("put/{label}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("primitives"), |b| {
            b.iter(|| black_box(fernet.encrypt(black_box(&plain))))
        });
        group.finish();
        let mut group = c.benchmark_group(format!("get/{label}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("primitives"), |b| {
            b.iter(|| black_box(fernet.decrypt(black_box(&token)).unwrap()))
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
