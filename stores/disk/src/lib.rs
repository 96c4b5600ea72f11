//! A directory store of the key-value family in py-key-value's `FileTreeStore` layout:
//! one file per entry, safe for several processes at once and for a crash at any
//! instant, and shared with Python: py-key-value-aio 0.5's `FileTreeStore` (with its
//! `FileTreeV1` key and collection sanitization strategies, the store FastMCP keeps its
//! OAuth tokens in) and this store read and write the same directory.
//!
//! **Layout.** A collection is a directory, its name sanitized as py-key-value does
//! (`mcp-oauth-token` → `S_mcp_oauth_token-3a009b34`; the rules are in the `names`
//! module's docs), next to an info file `<directory>-info.json` holding
//! `{"collection", "created_at", "directory", "version": 1}`; an entry is a file
//! `<sanitized key>.json` holding the entry document, byte for byte py-key-value's
//! (`json.dumps(..., sort_keys=True)`) plus the `key` and `collection` fields, which
//! py-key-value does not write there and reads without complaint. Enumeration returns
//! the names from those fields: an entry py-key-value wrote (without them) is read by
//! `get` but left out of `keys` and `collections` (with a `tracing` event), since its
//! file name cannot be turned back into a name.
//!
//! **Names py-key-value would mix up.** py-key-value cuts a long name made only of
//! `[A-Za-z0-9_]` to its length limit without a hash, so such names can share a file.
//! This store never lets one name's entry replace another's: it compares the stored
//! `key` and `collection`, keeps py-key-value's file for the first name written there,
//! and files the other under an overflow name (`S_…-<16 hex digits>`) that py-key-value
//! does not read. Should the overflow file also hold another name (only a planted or
//! copied file can do that), the operation is an [`ErrorKind::InvalidKey`] error.
//!
//! py-key-value refuses collection names that start with `S_` or `H_` (its reserved
//! prefixes); this store accepts them, under the same file names, so Python cannot open
//! such a collection.
//!
//! **Crash safety.** Every write is made in a hidden file that is swapped in place of
//! the entry only when complete, so a reader (in this process or another) sees the old
//! entry or the new one, never a torn one. With [`Durability::PowerLoss`] (the default)
//! the file and its directory are flushed to stable storage before a write is
//! acknowledged (a batch flushes the directory once). [`Durability::PowerLossAtomic`]
//! flushes each file but not the directory, as py-key-value's `FileTreeStore` does: a
//! power cut may roll the latest writes and deletes back, but leaves every entry whole.
//! [`Durability::ProcessCrash`] skips the flushes, at the price of the latest writes on
//! a power cut (an entry written just before may then be left empty, or, written over
//! a reused file, hold a mix of its last two versions).
//!
//! **Reused files at `ProcessCrash`.** A new file per write and the unlink of the one it
//! replaces cost ext4 an inode allocation and release, and under sustained writes its
//! allocator scans past every inode released in the last 30 seconds: 40–130 µs per
//! create on this project's test machines, several times the rest of a write. So at
//! `ProcessCrash` the store keeps the file a write replaced (under this process's
//! temporary name, where nobody opens it) and writes the next write of that entry over
//! it, then swaps it into place. It does so only under a Linux write lease
//! (`F_SETLEASE`), which the kernel grants only when no other open file refers to the
//! file, and which holds off any late `open` until the file is back in place whole: a
//! reader never sees a file being written. A file with another name (a backup's hard
//! link) or another mode than `0600` is never reused. A read that meets a writer's
//! lease waits for it, up to 2 s (a writer stopped or throttled in those microseconds),
//! then fails with a `Backend` error for that key; `put_if_absent` then fails too
//! rather than take the entry for absent. Without leases (another OS, a file system
//! or setting without them) every write makes a new file, as at the other levels. At
//! most 256 such files are kept per store (the least recently kept goes first), the
//! one of a deleted entry is removed with it, and the rest when the store is dropped
//! (on tokio's blocking pool); a killed process's are removed by the next open. The
//! lease's break signal is `SIGURG` (ignored unless a program handles it).
//! `scripts/bench-disk` measures the levels.
//!
//! **Hostile files.** Directories are opened with `O_NOFOLLOW` and files relative to
//! them, with `O_NOFOLLOW | O_NONBLOCK` and their type checked on the open handle: a
//! link (to a file or a directory), named pipe, socket or device where an entry or a
//! collection belongs is an error for that key, never followed or waited on, and is
//! skipped (with a `tracing` warning) by `keys`, `collections` and `cull`. Reads stop at
//! [`DiskStoreBuilder::max_entry_bytes`]. A file that is not a valid entry, or holds
//! another name's entry, is an error for its key alone or is left out of enumeration.
//! Temporary files of killed writers (named with their writer's PID) are removed on open
//! and by `cull` as soon as their writer is gone.
//!
//! **Threads.** File work never blocks an async runtime's worker. Batches, listings
//! and anything that flushes run on tokio's blocking pool. A single entry's read, and
//! its write or delete when nothing is flushed, are a few system calls: on a
//! multi-thread runtime they run in place with `block_in_place` (the worker hands its
//! other tasks to another thread first), which spares the pool's round trip of 20–30
//! µs; on a current-thread runtime they go to the pool too. (Do not call the store
//! under a multi-thread runtime's handle entered inside a current-thread runtime's
//! `block_on`: `block_in_place` panics there.)
//!
//! **Lease.** [`put_if_absent`](key_value_core::AsyncKeyValue::put_if_absent) is atomic
//! across processes on one machine: it takes an exclusive lock on the collection's
//! `.kv-lock` file, reads the entry, and writes only when it is absent or expired. A
//! plain `put` does not take the lock and is not part of the race.
//!
//! The directory is created readable by its owner only, files `0600`. Unix only.
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

#[cfg(not(unix))]
compile_error!(
    "key-value-disk needs a Unix system: it opens files relative to directory handles (openat, O_NOFOLLOW)"
);

mod layout;
mod names;
mod sys;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Durability, Entry, Error, ErrorKind, Result,
    async_trait, validate_default_collection,
};

use layout::{Layout, Leftover};

/// The default bound on an entry file, in bytes ([`DiskStoreBuilder::max_entry_bytes`]).
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;

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
    max_entry_bytes: usize,
}

impl DiskStoreBuilder {
    /// The largest entry file the store writes or reads, in bytes (default
    /// [`DEFAULT_MAX_ENTRY_BYTES`], 16 MiB). A larger value is a
    /// [`ErrorKind::ValueTooLarge`] error and nothing is written; a larger file found on
    /// disk is a [`ErrorKind::Deserialization`] error for its key, read no further than
    /// the limit.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.max_entry_bytes = bytes;
        self
    }

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
        let (root, durability, max) = (self.root, self.durability, self.max_entry_bytes);
        let layout = blocking(move || Layout::open(root, durability, max)).await?;
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
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
        }
    }

    /// The store's directory, with links resolved (as py-key-value writes it in the
    /// collection info files).
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// The file that holds (or would hold) an entry: py-key-value's `FileTreeStore` file
    /// name, or this store's overflow name when that file holds another name's entry.
    /// For tests and tooling: it reads the directory with blocking calls, so do not call
    /// it on an async runtime's worker.
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

    /// Runs `work`, a few system calls on one entry that never wait for a flush, in
    /// place on a multi-thread runtime ([`tokio::task::block_in_place`]: the worker
    /// hands its other tasks to another thread first, so none of them waits). That
    /// spares the round trip to the blocking pool, which costs more than the work
    /// (20–30 µs against a few, `benches/side_by_side.rs`). On a current-thread
    /// runtime, where nothing can take over the worker's tasks, it goes to the pool.
    ///
    /// The runtime is the one whose handle is current: a program that enters a
    /// multi-thread runtime's handle from inside a current-thread runtime's `block_on`
    /// and calls the store there makes `block_in_place` panic (tokio's rule for it).
    /// Nothing else in tokio's contexts does: blocking-pool threads, a multi-thread
    /// runtime's `block_on` and its tasks are all safe.
    async fn run_short<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Layout) -> Result<T> + Send + 'static,
    {
        if on_multi_thread_runtime() {
            tokio::task::block_in_place(|| work(&self.layout))
        } else {
            self.run(work).await
        }
    }
}

/// Whether this thread may use [`tokio::task::block_in_place`]: it runs a multi-thread
/// runtime's task (block_in_place panics on a current-thread runtime).
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
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
            max_entry_bytes: Some(self.layout.max_entry_bytes),
            max_entries_per_collection: None,
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run_short(move |layout| layout.read(&collection, &key))
            .await
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
        if !self.layout.durability.flushes_files() {
            let leftover = self
                .run_short(move |layout| layout.write(&collection, &key, &entry, true))
                .await?;
            // The old file's unlink (when it is not kept for reuse) is nobody's wait.
            if !leftover.is_empty() {
                drop(tokio::task::spawn_blocking(move || drop(leftover)));
            }
            return Ok(());
        }
        let layout = Arc::clone(&self.layout);
        answer_first(
            move || match layout.write(&collection, &key, &entry, true) {
                Ok(leftover) => (Ok(()), vec![leftover]),
                Err(e) => (Err(e), Vec::new()),
            },
        )
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
            writers.spawn(answer_first(move || layout.write_batch(&collection, &part)));
        }
        let mut first_error = None;
        while let Some(joined) = writers.join_next().await {
            let result = joined.map_err(lost);
            if let Err(e) = result.and_then(|written| written) {
                first_error.get_or_insert(e);
            }
        }
        // One flush of the directory for the whole batch (at `PowerLoss`).
        let collection = collection.to_owned();
        let synced = self
            .run(move |layout| layout.sync_collection(&collection))
            .await;
        match first_error {
            Some(e) => Err(e),
            None => synced,
        }
    }

    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |layout| layout.write_if_absent(&collection, &key, &entry))
            .await
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let (collection, key) = (collection.to_owned(), vec![key.to_owned()]);
        let remove = move |layout: &Layout| layout.remove(&collection, &key);
        let removed = if self.layout.durability.flushes_directories() {
            self.run(remove).await?
        } else {
            self.run_short(remove).await?
        };
        Ok(removed > 0)
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let collection = collection.to_owned();
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        self.run(move |layout| layout.remove(&collection, &keys))
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
