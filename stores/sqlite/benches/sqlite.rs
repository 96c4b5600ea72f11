//! Benchmarks of the SQLite store (being written).
fn main() {}
