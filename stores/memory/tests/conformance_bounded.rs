//! The whole conformance suite against a memory store bounded per collection, so the
//! bounded-store cases run too.

#![allow(clippy::panic)] // a store that cannot be built fails the test

use key_value_conformance::Fixture;
use key_value_memory::MemoryStore;

/// Large enough for every other case's data in one collection.
const BOUND: usize = 1000;

async fn new_store() -> Fixture {
    match MemoryStore::builder()
        .max_entries_per_collection(BOUND)
        .build()
    {
        Ok(store) => Fixture::new(store),
        Err(e) => panic!("could not build a bounded memory store: {e}"),
    }
}

key_value_conformance::suite!(new_store);
