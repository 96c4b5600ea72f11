//! The key-value family in one screen: a store, typed values, expiry, collections.
//!
//! Run with `cargo run --example quickstart`.

use std::time::Duration;

use key_value::memory::MemoryStore;
use key_value::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Session {
    user: String,
    visits: u32,
}

#[tokio::main]
async fn main() -> key_value::Result<()> {
    // Any store of the family works here; the memory store needs no setup.
    let store = MemoryStore::new();

    // Typed values: any serde type that serializes to a JSON object.
    let session = Session {
        user: "ada".into(),
        visits: 1,
    };
    store
        .put_as(
            "s-1",
            &session,
            Some(Duration::from_secs(600)),
            Some("sessions"),
        )
        .await?;
    let back: Option<Session> = store.get_as("s-1", Some("sessions")).await?;
    println!("1. stored and read back a typed value: {back:?}");

    // Expiry is absolute and reported with millisecond precision.
    if let Some((_, Some(left))) = store.ttl("s-1", Some("sessions")).await? {
        println!("2. the session expires in {:.3} s", left.as_secs_f64());
    }

    // Collections keep the same key apart.
    let mut flags = JsonObject::new();
    flags.insert("dark_mode".into(), true.into());
    store.put("s-1", flags, None, Some("preferences")).await?;
    println!(
        "3. collections now: {:?}",
        sorted(store.collections(None).await?)
    );

    // Batches: one call for many keys, one slot per key.
    store
        .put_many(
            &["a", "b"],
            vec![JsonObject::new(), JsonObject::new()],
            None,
            None,
        )
        .await?;
    let found = store.get_many(&["a", "missing", "b"], None).await?;
    println!(
        "4. get_many found {} of 3 keys in the default collection",
        found.iter().flatten().count()
    );

    // Errors are typed and name where they happened.
    let err = store
        .put("", JsonObject::new(), None, Some("sessions"))
        .await
        .err();
    if let Some(err) = err {
        println!("5. an empty key is refused: {err}");
    }
    Ok(())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}
