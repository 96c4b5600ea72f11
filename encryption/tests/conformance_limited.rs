//! The whole conformance suite against the wrapper over `Arc<dyn AsyncKeyValue>`: a
//! memory store bounded per collection (so the bounded-store cases run) behind a layer
//! that declares and enforces an entry size limit (so the oversized-value case checks
//! the wrapper's own limit, which accounts for the encryption overhead).

#![allow(clippy::expect_used, clippy::panic)] // a store that cannot be built fails the test

mod common;

use std::sync::Arc;

use key_value_core::AsyncKeyValue;
use key_value_fernet::{FernetKey, FernetWrapper};
use key_value_memory::MemoryStore;

async fn new_store() -> FernetWrapper<Arc<dyn AsyncKeyValue>> {
    let memory = match MemoryStore::builder()
        .max_entries_per_collection(1000)
        .build()
    {
        Ok(store) => store,
        Err(e) => panic!("could not build a bounded memory store: {e}"),
    };
    let mut shaped = common::Shaped::new(memory);
    shaped.limit = Some(64 * 1024);
    let inner: Arc<dyn AsyncKeyValue> = Arc::new(shaped);
    FernetWrapper::new(inner, FernetKey::generate().expect("random key"))
}

key_value_conformance::suite!(new_store);
