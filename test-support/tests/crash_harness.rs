//! The crash test catches what it is meant to catch: a store that writes entries in
//! place (no temporary file and rename) leaves a torn entry when killed mid-write.

#![allow(clippy::unwrap_used, clippy::panic)] // a deliberately naive store, for this test only

use std::io::Write;
use std::path::PathBuf;

use key_value_core::{Backend, Capabilities, Entry, Error, ErrorKind, Result, async_trait};
use key_value_test_support::processes::crash_test;

struct InPlaceStore(PathBuf);

fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(name: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..name.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(name.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn failed(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Backend, "file error").with_source(e)
}

#[async_trait]
impl Backend for InPlaceStore {
    fn name(&self) -> &str {
        "in-place"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            cull: true,
            ..Capabilities::default()
        }
    }
    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        match std::fs::read(self.0.join(hex(collection)).join(hex(key))) {
            Ok(bytes) => Entry::from_document(&bytes).map(Some),
            Err(_) => Ok(None),
        }
    }
    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let dir = self.0.join(hex(collection));
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let document = entry.to_document(collection, key)?;
        let (first, second) = document.as_bytes().split_at(document.len() / 2);
        // The naive way: truncate the entry, then write it in two steps.
        let mut file = std::fs::File::create(dir.join(hex(key))).map_err(failed)?;
        file.write_all(first).map_err(failed)?;
        std::thread::sleep(std::time::Duration::from_millis(2));
        file.write_all(second).map_err(failed)?;
        Ok(())
    }
    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        Ok(std::fs::remove_file(self.0.join(hex(collection)).join(hex(key))).is_ok())
    }
    async fn list_keys(&self, collection: &str, _limit: Option<usize>) -> Result<Vec<String>> {
        let Ok(items) = std::fs::read_dir(self.0.join(hex(collection))) else {
            return Ok(Vec::new());
        };
        Ok(items
            .flatten()
            .filter_map(|item| unhex(&item.file_name().to_string_lossy()))
            .collect())
    }
    async fn remove_expired(&self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn crash_test_catches_a_store_that_writes_in_place() {
    let outcome = std::panic::catch_unwind(|| {
        crash_test(
            "crash_test_catches_a_store_that_writes_in_place",
            |path| async move {
                std::fs::create_dir_all(&path).map_err(failed)?;
                Ok(InPlaceStore(path))
            },
        )
    });
    assert!(
        outcome.is_err(),
        "the crash test passed a store that writes entries in place"
    );
}
