//! The whole conformance suite against the wrapper over an unbounded memory store
//! (`conformance_limited.rs` runs it over a bounded, size-limited store).
//!
//! No raw access is given: the stored-data cases plant plain py-key-value documents,
//! which a strict wrapper rightly refuses as unsealed; the wrapper's own stored-data
//! rules are tested in `strictness.rs`.

#![allow(clippy::expect_used)] // a key that cannot be made fails the test

use key_value_fernet::{FernetKey, FernetWrapper};
use key_value_memory::MemoryStore;

async fn new_store() -> FernetWrapper<MemoryStore> {
    FernetWrapper::new(
        MemoryStore::new(),
        FernetKey::generate().expect("random key"),
    )
}

key_value_conformance::suite!(new_store);
