//! Our time over the floor's, measured interleaved: batches of Fernet-over-memory puts
//! (or gets) and batches of the `fernet` crate alone sealing (or opening) the same
//! plaintext, `fernet_floor.rs`'s work, alternate for a few seconds per row, so that a
//! machine whose load changes from second to second slows both sides alike. Prints,
//! per row, the median time per operation of each side and the median of the
//! per-pair ratios.
//!
//! A second floor adds the stored format's outer base64 (py-key-value keeps the Fernet
//! token, itself URL-safe base64, as standard base64 in the envelope): the primitives
//! on the same bytes the wrapper stores, without a store or JSON. Both floors are
//! printed; the second is the one issue 14's "primitives alone on the same bytes" names.
//!
//! Run: `cargo bench -p key-value-fernet --bench floor_ratio [-- SECONDS_PER_ROW]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up fails

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64_simd::STANDARD;
use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

/// `throughput.rs`'s value: compact JSON of exactly `size` bytes.
fn value(size: usize) -> JsonObject {
    let Value::Object(value) = json!({"blob": "x".repeat(size - 11)}) else {
        unreachable!()
    };
    value
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(4.0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = FernetWrapper::new(MemoryStore::new(), FernetKey::generate().unwrap());
    let fernet = fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap();
    println!(
        "row                 ours µs/op  floor µs/op  ours/floor  stored-bytes floor µs/op  ours/that (medians)"
    );
    for (label, size, batch) in [("1KB", 1024, 200), ("64KB", 64 * 1024, 8)] {
        let value = value(size);
        let plain = serde_json::to_vec(&value).unwrap();
        let token = fernet.encrypt(&plain);
        let stored = STANDARD.encode_to_string(&token);
        for op in ["put", "get"] {
            runtime
                .block_on(store.put("k", value.clone(), None, Some("bench")))
                .unwrap();
            let (mut ours, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut stored_floor, mut stored_ratios) = (Vec::new(), Vec::new());
            let until = Instant::now() + Duration::from_secs_f64(seconds);
            while Instant::now() < until {
                // Each put's value is cloned before the clock starts: the API takes it
                // by value, and the floor seals a borrowed slice.
                let mut values: Vec<JsonObject> = (0..batch).map(|_| value.clone()).collect();
                let started = Instant::now();
                for _ in 0..batch {
                    if op == "put" {
                        let value = values.pop().unwrap();
                        runtime
                            .block_on(store.put("k", black_box(value), None, Some("bench")))
                            .unwrap();
                    } else {
                        black_box(runtime.block_on(store.get("k", Some("bench"))).unwrap());
                    }
                }
                let ours_op = started.elapsed().as_secs_f64() / batch as f64;
                let started = Instant::now();
                for _ in 0..batch {
                    if op == "put" {
                        black_box(fernet.encrypt(black_box(&plain)));
                    } else {
                        black_box(fernet.decrypt(black_box(&token)).unwrap());
                    }
                }
                let floor_op = started.elapsed().as_secs_f64() / batch as f64;
                let started = Instant::now();
                for _ in 0..batch {
                    if op == "put" {
                        let token = fernet.encrypt(black_box(&plain));
                        black_box(STANDARD.encode_to_string(token.as_bytes()));
                    } else {
                        let token = STANDARD
                            .decode_to_vec(black_box(stored.as_bytes()))
                            .unwrap();
                        let token = std::str::from_utf8(&token).unwrap();
                        black_box(fernet.decrypt(token).unwrap());
                    }
                }
                let stored_op = started.elapsed().as_secs_f64() / batch as f64;
                ours.push(ours_op);
                floor.push(floor_op);
                ratios.push(ours_op / floor_op);
                stored_floor.push(stored_op);
                stored_ratios.push(ours_op / stored_op);
            }
            println!(
                "{:<20}{:>10.2}{:>13.2}{:>11.2}x{:>26.2}{:>12.2}x  ({} pairs)",
                format!("{op}/{label}"),
                median(&mut ours) * 1e6,
                median(&mut floor) * 1e6,
                median(&mut ratios),
                median(&mut stored_floor) * 1e6,
                median(&mut stored_ratios),
                ratios.len()
            );
        }
    }
}
