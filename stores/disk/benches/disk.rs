//! Benchmarks of the disk store (being written).
fn main() {}
