//! Typed values: any serde type that serializes to a JSON object goes in and comes out
//! as itself; a stored value of another shape is an error, not a panic.
//!
//! Run with `cargo run -p examples --example typed_values`.

use std::collections::BTreeMap;

use key_value::memory::MemoryStore;
use key_value::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Credential {
    ApiKey {
        key_id: String,
    },
    OAuth {
        scopes: Vec<String>,
        expires_at: Option<u64>,
    },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Profile {
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    credential: Credential,
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)] // only read to show the error
struct Counter {
    count: u64,
}

#[tokio::main]
async fn main() -> key_value::Result<()> {
    let store = MemoryStore::new();
    let profile = Profile {
        name: "build bot".into(),
        tags: BTreeMap::from([("team".into(), "infra".into())]),
        credential: Credential::OAuth {
            scopes: vec!["repo".into()],
            expires_at: None,
        },
    };
    store
        .put_as("bot", &profile, None, Some("profiles"))
        .await?;
    let back: Option<Profile> = store.get_as("bot", Some("profiles")).await?;
    println!(
        "1. a struct with a map and a tagged enum round-trips: {}",
        back.as_ref() == Some(&profile)
    );

    // What is stored is plain JSON: other programs (Python's py-key-value too) read it.
    if let Some(raw) = store.get("bot", Some("profiles")).await? {
        println!("2. stored as JSON: {}", serde_json::Value::Object(raw));
    }

    // Reading it as another type is a typed error naming the key, never a panic.
    match store.get_as::<Counter>("bot", Some("profiles")).await {
        Err(e) => println!(
            "3. read as the wrong type: {} error: {e}",
            format!("{:?}", e.kind()).to_lowercase()
        ),
        Ok(_) => println!("3. unexpectedly read as a counter"),
    }

    // Values must be JSON objects: a bare number is refused before it is stored.
    match store.put_as("n", &42, None, None).await {
        Err(e) => println!("4. a bare number is refused: {e}"),
        Ok(()) => println!("4. unexpectedly stored a bare number"),
    }
    Ok(())
}
