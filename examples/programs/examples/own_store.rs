//! Writing your own store: implement `Backend` (four methods), declare what it can do,
//! and run the conformance suite against it.
//!
//! Run with `cargo run --example own_store`. In your own crate, put
//! `key_value_conformance::suite!(new_store);` in `tests/conformance.rs` instead, and every
//! case becomes its own test.

use std::collections::BTreeMap;
use std::sync::Mutex;

use key_value::{Backend, Capabilities, Entry, Result, async_trait};
use key_value_conformance::{Report, run_all};

/// A store that keeps entries in one ordered map, keyed by (collection, key).
#[derive(Default)]
struct BTreeStore {
    entries: Mutex<BTreeMap<(String, String), Entry>>,
}

impl BTreeStore {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Backend for BTreeStore {
    fn name(&self) -> &str {
        "btree"
    }

    fn capabilities(&self) -> Capabilities {
        // The ordered map makes listing a collection's keys a range scan.
        Capabilities {
            list_keys: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        Ok(self
            .entries()
            .get(&(collection.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        self.entries()
            .insert((collection.to_owned(), key.to_owned()), entry);
        Ok(())
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let removed = self
            .entries()
            .remove(&(collection.to_owned(), key.to_owned()));
        let now = std::time::SystemTime::now();
        Ok(removed.is_some_and(|entry| !entry.is_expired(now)))
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let now = std::time::SystemTime::now();
        let start = (collection.to_owned(), String::new());
        Ok(self
            .entries()
            .range(start..)
            .take_while(|((c, _), _)| c == collection)
            .filter(|(_, entry)| !entry.is_expired(now))
            .map(|((_, key), _)| key.clone())
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }
}

#[tokio::main]
async fn main() {
    let reports = run_all(|| async { BTreeStore::default() }).await;
    let (mut passed, mut failed, mut not_applicable) = (0, 0, 0);
    for (name, report) in &reports {
        match report {
            Report::Passed => passed += 1,
            Report::NotApplicable(_) => not_applicable += 1,
            Report::Failed(why) => {
                failed += 1;
                println!("FAILED {name}: {why}");
            }
            Report::Skipped(why) => println!("skipped {name}: {why}"),
        }
    }
    println!(
        "the btree store against {} conformance cases: {passed} passed, {failed} failed, \
         {not_applicable} not applicable (capabilities it does not declare)",
        reports.len()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
