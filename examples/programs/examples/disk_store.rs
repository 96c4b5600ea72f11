//! The disk store: one file per entry in a directory, safe for several processes and
//! crashes. Values survive reopening the store.
//!
//! Run with `cargo run -p examples --example disk_store`.

use std::time::Duration;

use key_value::disk::DiskStore;
use key_value::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct Settings {
    theme: String,
    font_size: u8,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store");

    {
        let store = DiskStore::open(&path).await?;
        let settings = Settings {
            theme: "dark".into(),
            font_size: 14,
        };
        store
            .put_as("ada", &settings, None, Some("settings"))
            .await?;
        store
            .put_as(
                "session",
                &settings,
                Some(Duration::from_secs(3600)),
                Some("cache"),
            )
            .await?;
        println!("1. wrote two entries under {}", path.display());
    } // the store is dropped: nothing stays in memory

    let store = DiskStore::open(&path).await?;
    let back: Option<Settings> = store.get_as("ada", Some("settings")).await?;
    println!("2. reopened the directory and read back: {back:?}");
    if let Some((_, Some(left))) = store.ttl("session", Some("cache")).await? {
        println!(
            "3. the cached session still has {} s to live",
            left.as_secs()
        );
    }
    let mut collections = store.collections(None).await?;
    collections.sort();
    println!("4. collections on disk: {collections:?}");
    Ok(())
}
