//! The whole conformance suite against a disk store in a fresh directory per case, with
//! raw access so the corrupted-data and Python-document cases run.

#![allow(clippy::panic)] // a store that cannot be set up fails the test

use key_value_conformance::{Fixture, Hostile, RawAccess};
use key_value_core::{
    AsyncKeyValue, Durability, Error, ErrorKind, JsonObject, Result, async_trait,
};
use key_value_disk::DiskStore;

/// Plants raw bytes as an entry's file: the store writes a real entry first (so the
/// collection's directory exists as the store lays it out), then the file is replaced.
/// Hostile files outside the store go to `outside`, a directory beside its root.
struct Planter(DiskStore, std::path::PathBuf);

fn planting_failed(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Backend, "could not plant a hostile file").with_source(e)
}

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

    async fn plant_hostile(&self, collection: &str, key: &str, hostile: Hostile) -> Result<bool> {
        self.0
            .put(key, JsonObject::new(), None, Some(collection))
            .await?;
        let entry = self.0.entry_path(collection, key);
        match hostile {
            Hostile::NamedPipe => {
                std::fs::remove_file(&entry).map_err(planting_failed)?;
                let status = std::process::Command::new("mkfifo")
                    .arg(&entry)
                    .status()
                    .map_err(planting_failed)?;
                if !status.success() {
                    return Err(Error::new(ErrorKind::Backend, "mkfifo failed"));
                }
            }
            Hostile::LinkOutOfRoot(document) => {
                std::fs::create_dir_all(&self.1).map_err(planting_failed)?;
                let target = self.1.join(format!("outside-{}.json", std::process::id()));
                std::fs::write(&target, document).map_err(planting_failed)?;
                std::fs::remove_file(&entry).map_err(planting_failed)?;
                std::os::unix::fs::symlink(&target, &entry).map_err(planting_failed)?;
            }
            Hostile::ForeignFile(document) => {
                // Not an entry the store wrote: the placeholder goes, a file of another
                // name with the document stays among the collection's entries.
                std::fs::remove_file(&entry).map_err(planting_failed)?;
                let foreign = entry.with_file_name(format!("foreign-{key}.json"));
                std::fs::write(foreign, document).map_err(planting_failed)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

async fn new_store(durability: Durability) -> Fixture {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let opened = DiskStore::builder(dir.path().join("store"))
        .durability(durability)
        .open()
        .await;
    let store = match opened {
        Ok(store) => store,
        Err(e) => panic!("could not open a disk store: {e}"),
    };
    let outside = dir.path().join("outside");
    Fixture::new(store.clone())
        .with_raw_access(Planter(store, outside))
        .keep_alive(dir)
}

/// The default: every write flushed, on the blocking pool.
mod power_loss {
    use super::*;
    key_value_conformance::suite!(|| new_store(Durability::PowerLoss));
}

/// Nothing flushed: single reads, writes and deletes run in place on the suite's
/// multi-thread runtime (`block_in_place`) rather than on the blocking pool.
mod process_crash {
    use super::*;
    key_value_conformance::suite!(|| new_store(Durability::ProcessCrash));
}
