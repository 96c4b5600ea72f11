//! The whole conformance suite against an unbounded memory store.

async fn new_store() -> key_value_memory::MemoryStore {
    key_value_memory::MemoryStore::new()
}

key_value_conformance::suite!(new_store);
