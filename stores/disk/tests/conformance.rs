//! The whole conformance suite against a disk store in a fresh directory per case, with
//! raw access so the corrupted-data and Python-document cases run.

#![allow(clippy::panic)] // a store that cannot be set up fails the test

use key_value_conformance::{Fixture, RawAccess};
use key_value_core::{AsyncKeyValue, Error, ErrorKind, JsonObject, Result, async_trait};
use key_value_disk::DiskStore;

/// Plants raw bytes as an entry's file: the store writes a real entry first (so the
/// collection's directory exists as the store lays it out), then the file is replaced.
struct Planter(DiskStore);

#[async_trait]
impl RawAccess for Planter {
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()> {
        self.0
            .put(key, JsonObject::new(), None, Some(collection))
            .await?;
        std::fs::write(self.0.entry_path(collection, key), document).map_err(|e| {
            Error::new(ErrorKind::Backend, "could not plant a document").with_source(e)
        })
    }
}

async fn new_store() -> Fixture {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let store = match DiskStore::open(dir.path().join("store")).await {
        Ok(store) => store,
        Err(e) => panic!("could not open a disk store: {e}"),
    };
    Fixture::new(store.clone())
        .with_raw_access(Planter(store))
        .keep_alive(dir)
}

key_value_conformance::suite!(new_store);
