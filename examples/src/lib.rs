//! Runnable programs for the keyvalue family: see `examples/` beside this file
//! (`cargo run --example NAME`).
