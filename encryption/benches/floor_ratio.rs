//! Our time over the floor's, measured interleaved: batches of Fernet-over-memory puts
//! (or gets), batches of the floor (`floor/mod.rs`: the primitives alone making or
//! opening the same stored bytes, issue 14's "primitives alone on the same bytes") and
//! batches of the `fernet` crate doing the same (its token, base64-encoded once more as
//! the envelope holds it: an independent implementation, for reference) alternate for a
//! few seconds per row, so that a machine whose load changes from second to second
//! slows every side alike. Prints, per row, the median time per operation of each side
//! and the medians of the per-round ratios, and an `interleaved fernet/<row> <ratio>`
//! line per row for `scripts/bench-vs-python`.
//!
//! Run: `cargo bench -p key-value-fernet --bench floor_ratio [-- SECONDS_PER_ROW [ROW]]`
//! (ROW, such as `get/64KB`, runs that row alone: for a profiler).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up fails

mod floor;

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
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let seconds: f64 = args.first().and_then(|arg| arg.parse().ok()).unwrap_or(4.0);
    let only = args.get(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = FernetWrapper::new(MemoryStore::new(), FernetKey::generate().unwrap());
    let keys = floor::Keys::new();
    let fernet = fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap();
    println!(
        "row          ours µs/op  floor µs/op  ours/floor  fernet crate µs/op  ours/fernet crate (medians)"
    );
    for (label, size, batch) in [("1KB", 1024, 200), ("64KB", 64 * 1024, 8)] {
        let value = value(size);
        let plain = serde_json::to_vec(&value).unwrap();
        assert_eq!(plain, floor::plaintext(size));
        let stored = keys.seal(&plain);
        let crate_stored = STANDARD.encode_to_string(fernet.encrypt(&plain));
        for op in ["put", "get"] {
            let row = format!("{op}/{label}");
            if only.is_some_and(|only| *only != row) {
                continue;
            }
            runtime
                .block_on(store.put("k", value.clone(), None, Some("bench")))
                .unwrap();
            let (mut ours, mut floor, mut by_crate) = (Vec::new(), Vec::new(), Vec::new());
            let (mut ratios, mut crate_ratios) = (Vec::new(), Vec::new());
            let until = Instant::now() + Duration::from_secs_f64(seconds);
            let mut round = 0;
            while Instant::now() < until {
                // Each put's value is cloned before the clock starts: the API takes it
                // by value, and the floors seal a borrowed slice.
                let mut values: Vec<JsonObject> = (0..batch).map(|_| value.clone()).collect();
                let mut times = [0.0; 3];
                // The three sides take turns going first: the allocator's and caches'
                // state left by one side is not always the next one's.
                for turn in 0..3 {
                    let side = (round + turn) % 3;
                    let started = Instant::now();
                    for _ in 0..batch {
                        match (side, op) {
                            (0, "put") => {
                                let value = values.pop().unwrap();
                                let put = store.put("k", black_box(value), None, Some("bench"));
                                runtime.block_on(put).unwrap();
                            }
                            (0, _) => {
                                black_box(runtime.block_on(store.get("k", Some("bench"))).unwrap());
                            }
                            (1, "put") => {
                                black_box(keys.seal(black_box(&plain)));
                            }
                            (1, _) => {
                                black_box(keys.open(black_box(&stored)));
                            }
                            (_, "put") => {
                                let token = fernet.encrypt(black_box(&plain));
                                black_box(STANDARD.encode_to_string(token.as_bytes()));
                            }
                            (_, _) => {
                                let token = STANDARD
                                    .decode_to_vec(black_box(crate_stored.as_bytes()))
                                    .unwrap();
                                let token = std::str::from_utf8(&token).unwrap();
                                black_box(fernet.decrypt(token).unwrap());
                            }
                        }
                    }
                    times[side] = started.elapsed().as_secs_f64() / batch as f64;
                }
                round += 1;
                let [ours_op, floor_op, crate_op] = times;
                ours.push(ours_op);
                floor.push(floor_op);
                by_crate.push(crate_op);
                ratios.push(ours_op / floor_op);
                crate_ratios.push(ours_op / crate_op);
            }
            println!(
                "{:<13}{:>10.2}{:>13.2}{:>11.2}x{:>20.2}{:>18.2}x  ({} rounds)",
                row,
                median(&mut ours) * 1e6,
                median(&mut floor) * 1e6,
                median(&mut ratios),
                median(&mut by_crate) * 1e6,
                median(&mut crate_ratios),
                ratios.len()
            );
            // For scripts/bench-vs-python's last column.
            println!("interleaved fernet/{row} {:.3}", median(&mut ratios));
        }
    }
}
