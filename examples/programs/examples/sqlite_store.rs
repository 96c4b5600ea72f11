//! The SQLite store: one file (WAL mode, bundled SQLite), batches in one transaction,
//! and expired entries removed on demand.
//!
//! Run with `cargo run -p examples --example sqlite_store`.

use std::time::Duration;

use key_value::prelude::*;
use key_value::sqlite::SqliteStore;

fn visits(n: i64) -> JsonObject {
    let mut map = JsonObject::new();
    map.insert("visits".into(), n.into());
    map
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.sqlite");
    let store = SqliteStore::open(&path).await?;

    // A batch: one call, one transaction.
    let keys = ["home", "about", "blog"];
    store
        .put_many(
            &keys,
            vec![visits(10), visits(3), visits(7)],
            None,
            Some("pages"),
        )
        .await?;
    let found = store
        .get_many(&["home", "missing", "blog"], Some("pages"))
        .await?;
    println!(
        "1. wrote 3 pages in one batch; get_many of 3 keys found {}",
        found.iter().flatten().count()
    );

    // Short-lived entries, then a cull that removes the expired ones from the file.
    store
        .put(
            "flash",
            visits(1),
            Some(Duration::from_millis(100)),
            Some("pages"),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.cull().await?;
    println!(
        "2. after expiry and cull, `flash` is {}",
        if store.get("flash", Some("pages")).await?.is_some() {
            "still there"
        } else {
            "gone"
        }
    );

    drop(store);
    let reopened = SqliteStore::open(&path).await?;
    let mut keys = reopened.keys(Some("pages"), None).await?;
    keys.sort();
    println!("3. reopened {}: pages {keys:?}", path.display());
    Ok(())
}
