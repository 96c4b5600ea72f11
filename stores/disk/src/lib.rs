//! A directory store of the key-value family: one file per entry, safe for several
//! processes at once and for a crash at any instant.
//!
//! Every write goes to a temporary file that is renamed over the entry only when
//! complete, so a reader (in this process or another) sees the old entry or the new one,
//! never a torn one, and a crash leaves no half-written entry visible. With
//! [`Durability::PowerLoss`] (the default) the file and its directory are flushed to
//! stable storage before a write is acknowledged; [`Durability::ProcessCrash`] skips the
//! flushes and is much faster, at the price of the latest writes on a power cut.
//!
//! The directory is created readable by its owner only. Any key or collection name of the
//! contract works: names map to portable file names (a readable prefix and a hash), and
//! the original names are kept inside the files, where enumeration reads them. A file that
//! is not a valid entry (truncated, garbage, foreign) is an error for its key alone.
//!
//! ```
//! use key_value_disk::DiskStore;
//! use key_value_core::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| key_value_core::Error::new(ErrorKind::Setup, e.to_string()))?;
//! # let path = dir.path().join("tokens");
//! let store = DiskStore::open(&path).await?;
//! let mut token = JsonObject::new();
//! token.insert("access_token".into(), "…".into());
//! store.put("https://example.com/mcp", token, None, Some("tokens")).await?;
//! assert_eq!(store.keys(Some("tokens"), None).await?, vec!["https://example.com/mcp"]);
//! # Ok(()) }
//! ```

mod layout;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Durability, Entry, Error, ErrorKind, Result,
    async_trait, validate_default_collection,
};

use layout::{Layout, Leftover};

/// At most this many threads write one batch.
const PARALLEL_WRITES: usize = 4;
/// Batches smaller than this go to one thread.
const MIN_CHUNK: usize = 8;

/// A store in a directory; see the [crate docs](crate).
#[derive(Clone)]
pub struct DiskStore {
    layout: Arc<Layout>,
    default_collection: String,
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore")
            .field("root", &self.layout.root)
            .field("durability", &self.layout.durability)
            .field("default_collection", &self.default_collection)
            .finish()
    }
}

/// Settings for a [`DiskStore`]; start with [`DiskStore::builder`].
#[derive(Debug, Clone)]
pub struct DiskStoreBuilder {
    root: PathBuf,
    durability: Durability,
    default_collection: String,
}

impl DiskStoreBuilder {
    /// What acknowledged writes survive (default [`Durability::PowerLoss`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The collection used when an operation is given `None`
    /// (default: [`DEFAULT_COLLECTION`]).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = collection.into();
        self
    }

    /// Opens the store, creating its directory (owner-only) if needed.
    ///
    /// A path that is not a directory, an unwritable directory, or a directory holding
    /// a store of another layout version is an [`ErrorKind::Setup`] error.
    pub async fn open(self) -> Result<DiskStore> {
        validate_default_collection("disk", &self.default_collection)?;
        let (root, durability) = (self.root, self.durability);
        let layout = blocking(move || Layout::open(root, durability)).await?;
        Ok(DiskStore {
            layout: Arc::new(layout),
            default_collection: self.default_collection,
        })
    }
}

impl DiskStore {
    /// Opens the store in `root` with the default settings.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        DiskStore::builder(root).open().await
    }

    /// Settings for a store in `root`.
    pub fn builder(root: impl AsRef<Path>) -> DiskStoreBuilder {
        DiskStoreBuilder {
            root: root.as_ref().to_path_buf(),
            durability: Durability::default(),
            default_collection: DEFAULT_COLLECTION.to_owned(),
        }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// The file that holds (or would hold) an entry; for tests and tooling.
    pub fn entry_path(&self, collection: &str, key: &str) -> PathBuf {
        self.layout.entry_file(collection, key)
    }

    /// Runs `work` on the blocking pool with the layout.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Layout) -> Result<T> + Send + 'static,
    {
        let layout = Arc::clone(&self.layout);
        blocking(move || work(&layout)).await
    }
}

/// The error for blocking file work whose task was cancelled or panicked.
fn lost(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(
        ErrorKind::Backend,
        "a file operation was cancelled or panicked",
    )
    .with_source(e)
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(lost)?
}

/// Runs blocking writes and answers as soon as they are done, before removing the old
/// files they replaced (the [`Leftover`]s), which nobody needs to wait for.
async fn answer_first<F>(work: F) -> Result<()>
where
    F: FnOnce() -> (Result<()>, Vec<Leftover>) + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let (result, leftovers) = work();
        let _ = answer.send(result);
        drop(leftovers);
    });
    answered.await.map_err(lost)?
}

#[async_trait]
impl Backend for DiskStore {
    fn name(&self) -> &str {
        "disk"
    }

    fn default_collection(&self) -> &str {
        &self.default_collection
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            list_collections: true,
            destroy_collection: true,
            destroy: true,
            cull: true,
            // Each entry is its own file: a batch is written entry by entry.
            atomic_put_many: false,
            max_entry_bytes: None,
            max_entries_per_collection: None,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        // One small file, read on the calling thread: handing a 5 µs read to the
        // blocking pool costs about 15 µs. Batches and writes (which may flush to
        // stable storage) go to the blocking pool.
        self.layout.read(collection, key)
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let collection = collection.to_owned();
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        self.run(move |layout| {
            keys.iter()
                .map(|key| layout.read(&collection, key).map_err(|e| e.with_key(key)))
                .collect()
        })
        .await
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        let layout = Arc::clone(&self.layout);
        answer_first(move || match layout.write(&collection, &key, &entry) {
            Ok(leftover) => (Ok(()), vec![leftover]),
            Err(e) => (Err(e), Vec::new()),
        })
        .await
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        // The last write of a repeated key wins; distinct files can then be written in
        // parallel (file creation dominates, and it overlaps across threads).
        let mut latest: HashMap<&str, Entry> = HashMap::with_capacity(entries.len());
        for (key, entry) in entries {
            latest.insert(key, entry);
        }
        let mut entries: Vec<(String, Entry)> = latest
            .into_iter()
            .map(|(key, entry)| (key.to_owned(), entry))
            .collect();
        let chunk = entries.len().div_ceil(PARALLEL_WRITES).max(MIN_CHUNK);
        let mut writers = tokio::task::JoinSet::new();
        while !entries.is_empty() {
            let part = entries.split_off(entries.len().saturating_sub(chunk));
            let (layout, collection) = (Arc::clone(&self.layout), collection.to_owned());
            writers.spawn(answer_first(move || {
                let mut leftovers = Vec::with_capacity(part.len());
                for (key, entry) in &part {
                    match layout.write(&collection, key, entry) {
                        Ok(leftover) => leftovers.push(leftover),
                        Err(e) => return (Err(e.with_key(key)), leftovers),
                    }
                }
                (Ok(()), leftovers)
            }));
        }
        let mut first_error = None;
        while let Some(joined) = writers.join_next().await {
            let result = joined.map_err(lost);
            if let Err(e) = result.and_then(|written| written) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |layout| layout.remove(&collection, &key))
            .await
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let collection = collection.to_owned();
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        self.run(move |layout| {
            let mut removed = 0;
            for key in &keys {
                if layout
                    .remove(&collection, key)
                    .map_err(|e| e.with_key(key))?
                {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let collection = collection.to_owned();
        self.run(move |layout| layout.list_keys(&collection, limit))
            .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.run(move |layout| layout.list_collections(limit)).await
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let collection = collection.to_owned();
        self.run(move |layout| layout.remove_collection(&collection))
            .await
    }

    async fn remove_all(&self) -> Result<bool> {
        self.run(Layout::remove_all).await
    }

    async fn remove_expired(&self) -> Result<()> {
        self.run(Layout::remove_expired).await
    }
}

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_portable_and_distinct() {
        let names = [
            "key", "Key", "..", ".", "a/b", "a\\b", "con", "", "é", "e\u{301}",
        ];
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let component = layout::component(name);
            assert!(
                component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c)),
                "{component}"
            );
            assert!(component.len() <= 40 + 33, "{component}");
            assert!(seen.insert(component.to_lowercase()), "{name:?} collides");
        }
    }

    #[test]
    fn long_names_make_short_file_names() {
        let component = layout::component(&"x".repeat(4096));
        assert!(component.len() < 100, "{}", component.len());
    }
}
