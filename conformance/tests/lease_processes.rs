//! The cross-process lease race catches a store whose `put_if_absent` is atomic only
//! inside one process: a file store that checks and then writes, each process under its
//! own lock.

#![allow(clippy::panic)] // test helpers fail the test loudly

use std::path::PathBuf;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, Backend, Capabilities, Entry, Result, async_trait};
use tokio::sync::Mutex;

/// Entries as files named `collection.key` in one directory; `write_if_absent` is a
/// check and a write under a lock that only this process sees.
struct ProcessLocalLease {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl ProcessLocalLease {
    fn file(&self, collection: &str, key: &str) -> PathBuf {
        self.dir.join(format!("{collection}.{key}"))
    }
}

fn io(e: std::io::Error) -> key_value_core::Error {
    key_value_core::Error::new(key_value_core::ErrorKind::Backend, e.to_string())
}

#[async_trait]
impl Backend for ProcessLocalLease {
    fn name(&self) -> &str {
        "process-local-lease"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        match tokio::fs::read(self.file(collection, key)).await {
            Ok(bytes) => Entry::from_document(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let document = entry.to_document(collection, key)?;
        tokio::fs::write(self.file(collection, key), document)
            .await
            .map_err(io)
    }

    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let _only_in_this_process = self.lock.lock().await;
        let now = std::time::SystemTime::now();
        if self
            .read(collection, key)
            .await?
            .is_some_and(|held| !held.is_expired(now))
        {
            return Ok(false);
        }
        // The window another process slips through: wide enough that the racers, told
        // to go together, are all inside it on a loaded machine too.
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.write(collection, key, entry).await?;
        Ok(true)
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        match tokio::fs::remove_file(self.file(collection, key)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(e)),
        }
    }
}

#[test]
#[should_panic(expected = "processes won the lease")]
fn catches_a_lease_that_is_atomic_only_within_one_process() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no temporary directory");
    };
    // Children are started with the parent's location; their own `dir` goes unused.
    let location = dir.path().to_string_lossy().into_owned();
    key_value_conformance::lease_race_across_processes(
        "catches_a_lease_that_is_atomic_only_within_one_process",
        &location,
        6,
        |location| async move {
            let store = ProcessLocalLease {
                dir: PathBuf::from(location),
                lock: Mutex::new(()),
            };
            let _: &dyn AsyncKeyValue = &store;
            Ok(store)
        },
    );
}
