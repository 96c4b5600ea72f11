//! Moving entries from one store to another: the [`Migration`] layer, which moves
//! entries lazily as they are read, and [`copy`], which moves a whole store or
//! collection at once (the "move my tokens from disk to Redis" task).
//!
//! ```
//! # async fn demo() -> key_value_core::Result<()> {
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::migration::{copy, CopyOptions, CopyScope, Migration};
//!
//! let old = key_value_memory::MemoryStore::new(); // say, the disk store
//! let new = key_value_memory::MemoryStore::new(); // say, Redis
//! old.put("github", serde_json::Map::new(), None, Some("tokens")).await?;
//!
//! // At once: every collection, keeping each entry's remaining time-to-live.
//! let report = copy(&old, &new, CopyScope::Store, CopyOptions::default()).await?;
//! assert_eq!((report.collections, report.copied), (1, 1));
//!
//! // Or lazily: read through to the old store, write to the new one.
//! let store = new.layer(Migration::new(old));
//! assert!(store.get("github", Some("tokens")).await?.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! py-key-value 0.5 has neither, nor has its main branch: this module is ours.
//!
//! # From one naming to another
//!
//! The same layer moves entries between two namings of one backend, when a program
//! changes how it names what it stores (a prefix, one collection for all, another
//! sanitization of names): the old store is the backend seen through the old naming,
//! the new store the same backend through the new one, and
//! [`Migration::remove_moved`] deletes each entry's old copy once it is moved.
//!
//! ```
//! # #[cfg(all(feature = "prefix-collections", feature = "single-collection"))]
//! # async fn demo() -> key_value_core::Result<()> {
//! use std::sync::Arc;
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::migration::Migration;
//! use key_value_layers::prefix_collections::PrefixCollections;
//! use key_value_layers::single_collection::SingleCollection;
//!
//! let backend = Arc::new(key_value_memory::MemoryStore::new()); // say, a SQLite file
//! // Release 1 kept every collection in one: key `tokens__github` of collection `all`.
//! let release_1 = backend.clone().layer(SingleCollection::new("all"));
//! release_1.put("github", serde_json::Map::new(), None, Some("tokens")).await?;
//!
//! // Release 2 keeps collections apart, prefixed: key `github` of collection `app__tokens`.
//! let old_naming = backend.clone().layer(SingleCollection::new("all"));
//! let store = backend
//!     .clone()
//!     .layer(PrefixCollections::new("app"))
//!     .layer(Migration::new(old_naming).remove_moved(true));
//! assert!(store.get("github", Some("tokens")).await?.is_some()); // moved on this read
//! assert!(backend.get("github", Some("app__tokens")).await?.is_some());
//! assert!(backend.get("tokens__github", Some("all")).await?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! py-key-value's main branch has no wrapper for this. A `SanitizationMigrationWrapper`
//! (later renamed `MigrationWrapper`) was written for its issue 207 and dropped before
//! the sanitization strategies were merged; this layer does what it did, but:
//!
//! - it always moves what it finds (Python's wrapper could read from the old naming
//!   without moving), and keeps the old copy unless told to remove it (as Python's
//!   `delete_after_migration`);
//! - it keeps no cache of where each key lives (Python's kept an LRU cache of
//!   "current", "legacy" or "missing" per key): every miss of the new naming reads the
//!   old one, which costs a read but is never wrong when another process writes;
//! - the move uses `put_if_absent` where the new store offers it, so a write made
//!   meanwhile wins; deletes, listing and destruction cover both namings.
//!
//! The two namings should not overlap: `keys` and `collections` list both, so an old
//! naming that is the bare backend would also list the new naming's stored names.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Capabilities, Error, ErrorKind, JsonObject, Layer, Result, WithTtl,
};

/// Reads through to an old store and moves what it finds to the new one (a [`Layer`]
/// over the new store).
///
/// - `get`, `get_many`, `ttl`, `ttl_many`: the new store first; a key it lacks is read
///   from the old store and, when found, written to the new one with its remaining
///   time-to-live (with `put_if_absent` where the new store offers it, so that a write
///   made meanwhile to the new store wins) and returned. The old entry stays, unless
///   [`Migration::remove_moved`].
/// - `put`, `put_many`: the new store only (it is read first, so the old value is
///   hidden).
/// - `put_if_absent`: the key is first moved (a live entry in the old store counts as
///   present), then tried on the new store.
/// - `delete`, `delete_many`: both stores, or the old value would come back on the
///   next read; an entry counts as deleted if either store held it.
/// - `keys`, `collections`: both stores, without duplicates; `destroy_collection`,
///   `destroy`, `cull` and `close`: both stores.
///
/// It reports the new store's name, default collection and capabilities, except that
/// enumeration and destruction are offered only when both stores offer them. `None`
/// means the new store's default collection, on both stores. With
/// [`Migration::remove_moved`], a moved entry is then deleted from the old store.
#[derive(Clone)]
pub struct Migration {
    old: Arc<dyn AsyncKeyValue>,
    remove_moved: bool,
}

impl fmt::Debug for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("old", &self.old.info().name)
            .field("remove_moved", &self.remove_moved)
            .finish()
    }
}

impl Migration {
    /// Reads through to `old`.
    pub fn new(old: impl AsyncKeyValue + 'static) -> Self {
        Migration::shared(Arc::new(old))
    }

    /// [`Migration::new`] with a store already shared.
    pub fn shared(old: Arc<dyn AsyncKeyValue>) -> Self {
        Migration {
            old,
            remove_moved: false,
        }
    }

    /// Whether an entry moved to the new store is then deleted from the old one
    /// (default `false`: the old store keeps it, so an older program still reads it).
    /// The deletion follows the write, so a failure between them leaves a copy in both,
    /// never none; a deletion that fails is logged at warn level and the read still
    /// answers (the new store's copy hides the old one). py-key-value's unmerged
    /// wrapper called it `delete_after_migration`.
    pub fn remove_moved(mut self, remove: bool) -> Self {
        self.remove_moved = remove;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for Migration {
    type Store = MigrationStore<S>;

    fn layer(&self, new: S) -> MigrationStore<S> {
        MigrationStore {
            new,
            old: self.old.clone(),
            remove_moved: self.remove_moved,
        }
    }
}

/// The store [`Migration`] makes.
pub struct MigrationStore<S> {
    new: S,
    old: Arc<dyn AsyncKeyValue>,
    remove_moved: bool,
}

impl<S> fmt::Debug for MigrationStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigrationStore")
            .field("old", &self.old.info().name)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> MigrationStore<S> {
    /// The new store.
    pub fn new_store(&self) -> &S {
        &self.new
    }

    /// The old store.
    pub fn old_store(&self) -> &Arc<dyn AsyncKeyValue> {
        &self.old
    }

    fn collection<'a>(&'a self, collection: Option<&'a str>) -> &'a str {
        collection.unwrap_or(self.new.info().default_collection)
    }

    /// Reads `key` from the old store and writes it to the new one (then deletes it
    /// from the old one, with `remove_moved`); returns what the new store holds
    /// afterwards.
    async fn move_one(&self, key: &str, collection: &str) -> Result<Option<WithTtl>> {
        let Some((value, remaining)) = self.old.ttl(key, Some(collection)).await? else {
            return Ok(None);
        };
        if remaining.is_some_and(|left| left.is_zero()) {
            return Ok(None); // expires now; a zero TTL cannot be written
        }
        let held = if self.new.capabilities().put_if_absent {
            if self
                .new
                .put_if_absent(key, value.clone(), remaining, Some(collection))
                .await?
            {
                Some((value, remaining))
            } else {
                // Written to the new store meanwhile: that write wins.
                self.new.ttl(key, Some(collection)).await?
            }
        } else {
            self.new
                .put(key, value.clone(), remaining, Some(collection))
                .await?;
            Some((value, remaining))
        };
        if self.remove_moved
            && let Err(error) = self.old.delete(key, Some(collection)).await
        {
            // The entry is safe in the new store, which hides the old copy: answer.
            tracing::warn!(
                collection,
                key,
                error = %error,
                old = self.old.info().name,
                "moved an entry but could not delete it from the old store"
            );
        }
        Ok(held)
    }

    async fn ttl_many_through(
        &self,
        keys: &[&str],
        collection: &str,
    ) -> Result<Vec<Option<WithTtl>>> {
        let mut entries = self.new.ttl_many(keys, Some(collection)).await?;
        for (key, entry) in keys.iter().zip(entries.iter_mut()) {
            if entry.is_none() {
                *entry = self.move_one(key, collection).await?;
            }
        }
        Ok(entries)
    }

    /// Whether each key has a live entry in `store`.
    async fn present(
        store: &dyn AsyncKeyValue,
        keys: &[&str],
        collection: &str,
    ) -> Result<Vec<bool>> {
        Ok(store
            .get_many(keys, Some(collection))
            .await?
            .iter()
            .map(Option::is_some)
            .collect())
    }
}

/// Names from both stores, each once, at most `limit`.
fn union(mut first: Vec<String>, second: Vec<String>, limit: Option<usize>) -> Vec<String> {
    let mut seen: HashSet<String> = first.iter().cloned().collect();
    for name in second {
        if !seen.contains(&name) {
            seen.insert(name.clone());
            first.push(name);
        }
    }
    if let Some(limit) = limit {
        first.truncate(limit);
    }
    first
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for MigrationStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.new)
    }

    fn capabilities(&self) -> Capabilities {
        let new = self.new.capabilities();
        let old = self.old.capabilities();
        Capabilities {
            list_keys: new.list_keys && old.list_keys,
            list_collections: new.list_collections && old.list_collections,
            destroy_collection: new.destroy_collection && old.destroy_collection,
            destroy: new.destroy && old.destroy,
            ..new
        }
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let collection = self.collection(collection);
        if let Some(value) = self.new.get(key, Some(collection)).await? {
            return Ok(Some(value));
        }
        Ok(self
            .move_one(key, collection)
            .await?
            .map(|(value, _)| value))
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let collection = self.collection(collection);
        let mut values = self.new.get_many(keys, Some(collection)).await?;
        for (key, value) in keys.iter().zip(values.iter_mut()) {
            if value.is_none() {
                *value = self
                    .move_one(key, collection)
                    .await?
                    .map(|(value, _)| value);
            }
        }
        Ok(values)
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let collection = self.collection(collection);
        if let Some(entry) = self.new.ttl(key, Some(collection)).await? {
            return Ok(Some(entry));
        }
        self.move_one(key, collection).await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let collection = self.collection(collection);
        self.ttl_many_through(keys, collection).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let collection = self.collection(collection);
        if self.new.ttl(key, Some(collection)).await?.is_none() {
            self.move_one(key, collection).await?;
        }
        self.new
            .put_if_absent(key, value, ttl, Some(collection))
            .await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let collection = self.collection(collection);
        let in_new = self.new.delete(key, Some(collection)).await?;
        let in_old = self.old.delete(key, Some(collection)).await?;
        Ok(in_new || in_old)
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let collection = self.collection(collection);
        let in_new = Self::present(&self.new, keys, collection).await?;
        let in_old = Self::present(self.old.as_ref(), keys, collection).await?;
        self.new.delete_many(keys, Some(collection)).await?;
        self.old.delete_many(keys, Some(collection)).await?;
        let mut counted = HashSet::new();
        Ok(keys
            .iter()
            .zip(in_new.iter().zip(&in_old))
            .filter(|(key, (new, old))| (**new || **old) && counted.insert(**key))
            .count())
    }

    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        let collection = self.collection(collection);
        let new = self.new.keys(Some(collection), None).await?;
        let old = self.old.keys(Some(collection), None).await?;
        Ok(union(new, old, limit))
    }

    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let new = self.new.collections(None).await?;
        let old = self.old.collections(None).await?;
        Ok(union(new, old, limit))
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let in_new = self.new.destroy_collection(collection).await?;
        let in_old = self.old.destroy_collection(collection).await?;
        Ok(in_new || in_old)
    }

    async fn destroy(&self) -> Result<bool> {
        let in_new = self.new.destroy().await?;
        let in_old = self.old.destroy().await?;
        Ok(in_new || in_old)
    }

    async fn cull(&self) -> Result<()> {
        self.new.cull().await?;
        if self.old.capabilities().cull {
            self.old.cull().await?;
        }
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        let new = self.new.close().await;
        let old = self.old.close().await;
        new.and(old)
    }
}

/// What [`copy`] copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyScope<'a> {
    /// Every collection of the source store (needs `collections` and `keys` on it).
    Store,
    /// One collection, by name (needs `keys` on the source store).
    Collection(&'a str),
}

/// How [`copy`] copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// How many entries are read (`ttl_many`) and written (`put_many`) per round trip,
    /// and so the most values held in memory at once; at least 1. Default 100.
    pub batch_size: usize,
    /// Whether an entry already in the destination is replaced (default `true`);
    /// otherwise it is kept and counted in [`CopyReport::kept`].
    pub overwrite: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            batch_size: 100,
            overwrite: true,
        }
    }
}

impl CopyOptions {
    /// Entries per round trip (0 is taken as 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Whether existing entries of the destination are replaced. With `false`, a
    /// destination that declares [`Capabilities::put_if_absent`] writes each entry with
    /// it, so an entry written there during the copy is kept too; another destination
    /// is read first, and an entry written between that read and the copy's write is
    /// replaced.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }
}

/// What [`copy`] did (or, in a [`CopyError`], did before it stopped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// Collections copied to the end (listed in the source; empty ones included).
    pub collections: usize,
    /// Entries the destination acknowledged writing.
    pub copied: usize,
    /// Keys listed but gone or expired by the time they were read.
    pub vanished: usize,
    /// Entries left as they were in the destination (with `overwrite(false)`).
    pub kept: usize,
}

/// Why [`copy`] stopped, and how far it got.
///
/// Nothing is lost when a copy stops: the source is never changed, and the entries in
/// [`CopyError::report`] are in the destination. Entries of the batch that failed may
/// be there too (a `put_many` that fails part way may have written some, unless the
/// destination's `put_many` is atomic); they are not counted. Running the same copy
/// again finishes it (with `overwrite(false)`, without writing again what is there).
///
/// It converts into the store [`Error`] (`?` in a function returning
/// [`key_value_core::Result`]), which is also its [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct CopyError {
    error: Error,
    report: CopyReport,
    collection: Option<String>,
}

impl CopyError {
    /// The error of the store that failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// That error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// What was copied before the failure.
    pub fn report(&self) -> CopyReport {
        self.report
    }

    /// The collection being copied when it failed (`None` when listing the
    /// collections failed, or nothing was tried).
    pub fn collection(&self) -> Option<&str> {
        self.collection.as_deref()
    }

    /// The error of the store that failed, without the progress.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CopyReport {
            collections,
            copied,
            ..
        } = self.report;
        write!(
            f,
            "copy stopped after {collections} whole collection(s) and {copied} entries"
        )?;
        if let Some(collection) = &self.collection {
            write!(f, ", in collection `{collection}`")?;
        }
        write!(f, ": {}", self.error)
    }
}

impl std::error::Error for CopyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CopyError> for Error {
    fn from(error: CopyError) -> Self {
        error.error
    }
}

/// Copies every entry of `scope` from `from` to `to`, keeping collections, keys,
/// values and each entry's remaining time-to-live; returns the counts.
///
/// Per collection, it lists the keys (the store contract has no cursor to page them
/// with, so one collection's key names are held; values are not), then reads them
/// `batch_size` at a time with `ttl_many` and writes each batch before reading the
/// next: entries without expiry with one `put_many`, entries with a time-to-live one
/// `put` each (their TTLs differ). At most `batch_size` values are held at once,
/// whatever the size of the collection. The remaining time is the one read, so a copy
/// may outlive its original by the time between the read and the write
/// (milliseconds). The source is not changed. It is not a snapshot: writes made to the
/// source meanwhile may or may not be copied; run it while the source is quiet, or
/// put a [`Migration`] layer in front of the new store for what it missed.
///
/// py-key-value 0.5 has no counterpart.
///
/// # Errors
///
/// A [`CopyError`] holding the store's error and the progress made before it. Its
/// kind is [`ErrorKind::Unsupported`] when the source cannot list keys (or
/// collections, for [`CopyScope::Store`]), before anything is read or written;
/// otherwise it is the first error of either store, with the entries copied before it
/// left in place (copying again is safe).
pub async fn copy(
    from: &dyn AsyncKeyValue,
    to: &dyn AsyncKeyValue,
    scope: CopyScope<'_>,
    options: CopyOptions,
) -> std::result::Result<CopyReport, CopyError> {
    let mut copier = Copier {
        from,
        to,
        options,
        report: CopyReport::default(),
    };
    let collections = copier.collections(scope).await.map_err(|error| CopyError {
        error,
        report: CopyReport::default(),
        collection: None,
    })?;
    for collection in &collections {
        if let Err(error) = copier.collection(collection).await {
            return Err(CopyError {
                error,
                report: copier.report,
                collection: Some(collection.clone()),
            });
        }
    }
    Ok(copier.report)
}

/// One run of [`copy`]: the stores, and the progress so far.
struct Copier<'a> {
    from: &'a dyn AsyncKeyValue,
    to: &'a dyn AsyncKeyValue,
    options: CopyOptions,
    report: CopyReport,
}

impl Copier<'_> {
    /// The collections `scope` names, once the source is known to list what is needed.
    async fn collections(&self, scope: CopyScope<'_>) -> Result<Vec<String>> {
        let caps = self.from.capabilities();
        let source = self.from.info().name;
        if !caps.list_keys {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "copy lists the keys of each collection, and the source store `{source}` does not support `keys`"
                ),
            ));
        }
        match scope {
            CopyScope::Collection(name) => Ok(vec![name.to_owned()]),
            CopyScope::Store if caps.list_collections => self.from.collections(None).await,
            CopyScope::Store => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "copying a whole store lists its collections, and the source store `{source}` does not support `collections`; copy one collection at a time"
                ),
            )),
        }
    }

    /// Copies one collection, batch by batch.
    async fn collection(&mut self, collection: &str) -> Result<()> {
        let keys = self.from.keys(Some(collection), None).await?;
        for batch in keys.chunks(self.options.batch_size.max(1)) {
            let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
            self.batch(&batch, collection).await?;
        }
        self.report.collections += 1;
        tracing::info!(
            from = self.from.info().name,
            to = self.to.info().name,
            collection,
            keys = keys.len(),
            "copied a collection"
        );
        Ok(())
    }

    /// Reads `keys` from the source and writes them to the destination; counts each
    /// write once the destination has acknowledged it.
    async fn batch(&mut self, keys: &[&str], collection: &str) -> Result<()> {
        let entries = self.from.ttl_many(keys, Some(collection)).await?;
        if !self.options.overwrite && self.to.capabilities().put_if_absent {
            return self.batch_if_absent(keys, entries, collection).await;
        }
        let existing = if self.options.overwrite {
            vec![false; keys.len()]
        } else {
            self.to
                .get_many(keys, Some(collection))
                .await?
                .iter()
                .map(Option::is_some)
                .collect()
        };
        let mut lasting_keys = Vec::new();
        let mut lasting_values = Vec::new();
        for ((key, entry), exists) in keys.iter().zip(entries).zip(existing) {
            match entry {
                None => self.report.vanished += 1,
                Some(_) if exists => self.report.kept += 1,
                Some((_, Some(remaining))) if remaining.is_zero() => self.report.vanished += 1,
                Some((value, Some(remaining))) => {
                    self.to
                        .put(key, value, Some(remaining), Some(collection))
                        .await?;
                    self.report.copied += 1;
                }
                Some((value, None)) => {
                    lasting_keys.push(*key);
                    lasting_values.push(value);
                }
            }
        }
        if !lasting_keys.is_empty() {
            self.to
                .put_many(&lasting_keys, lasting_values, None, Some(collection))
                .await?;
            self.report.copied += lasting_keys.len();
        }
        Ok(())
    }

    /// [`Copier::batch`] without overwriting, atomically per entry: each one is written
    /// with `put_if_absent`, so nothing the destination holds is replaced, even an entry
    /// written there while the copy runs.
    async fn batch_if_absent(
        &mut self,
        keys: &[&str],
        entries: Vec<Option<(JsonObject, Option<Duration>)>>,
        collection: &str,
    ) -> Result<()> {
        for (key, entry) in keys.iter().zip(entries) {
            let (value, ttl) = match entry {
                None => {
                    self.report.vanished += 1;
                    continue;
                }
                Some((_, Some(remaining))) if remaining.is_zero() => {
                    self.report.vanished += 1;
                    continue;
                }
                Some(entry) => entry,
            };
            if self
                .to
                .put_if_absent(key, value, ttl, Some(collection))
                .await?
            {
                self.report.copied += 1;
            } else {
                self.report.kept += 1;
            }
        }
        Ok(())
    }
}
