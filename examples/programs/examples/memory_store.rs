//! The memory store: no setup, optional LRU bound per collection, and a model of the
//! contract every store follows.
//!
//! Run with `cargo run -p examples --example memory_store`.

use std::time::Duration;

use key_value::memory::MemoryStore;
use key_value::prelude::*;

fn object(field: &str, value: i64) -> JsonObject {
    let mut map = JsonObject::new();
    map.insert(field.into(), value.into());
    map
}

#[tokio::main]
async fn main() -> key_value::Result<()> {
    // At most two entries per collection: the least recently used one goes first.
    let store = MemoryStore::builder()
        .max_entries_per_collection(2)
        .build()?;
    store.put("a", object("n", 1), None, Some("recent")).await?;
    store.put("b", object("n", 2), None, Some("recent")).await?;
    store.get("a", Some("recent")).await?; // `a` is now the most recently used
    store.put("c", object("n", 3), None, Some("recent")).await?;
    let mut kept = store.keys(Some("recent"), None).await?;
    kept.sort();
    println!("1. with room for two, the collection keeps {kept:?} (`b` was evicted)");

    // Expiry: the entry is gone once its time is up.
    store
        .put(
            "otp",
            object("code", 123_456),
            Some(Duration::from_millis(200)),
            None,
        )
        .await?;
    println!(
        "2. a one-time code, just stored: {:?}",
        store.get("otp", None).await?.is_some()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "   and 300 ms later: {:?}",
        store.get("otp", None).await?.is_some()
    );

    // Deleting reports whether something was there.
    println!(
        "3. delete `c`: {}, delete it again: {}",
        store.delete("c", Some("recent")).await?,
        store.delete("c", Some("recent")).await?
    );
    Ok(())
}
