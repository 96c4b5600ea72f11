//! The whole conformance suite against an unbounded memory store.

async fn new_store() -> keyvalue_memory::MemoryStore {
    keyvalue_memory::MemoryStore::new()
}

keyvalue_conformance::suite!(new_store);
