//! The in-process store of the key-value family.
//!
//! [`MemoryStore`] keeps entries in memory, shared by every task that holds it. Each
//! collection has its own lock, held for a hash lookup and the decoding of a small
//! value (a larger value is copied out, or shared, and decoded or cloned after it), so
//! tasks working on different collections never wait for each other. A collection is freed when its last
//! entry goes (deleted, culled, or found expired), so short-lived collections do not
//! accumulate. It offers every optional capability of the contract, and an optional
//! bound on entries per collection with least-recently-used eviction.
//!
//! # How entries are held, and why
//!
//! Each entry is one allocation holding its key followed by its value's compact JSON,
//! plus its expiry and creation time as two integers (microseconds since the epoch,
//! the precision of the other stores' documents), kept inline in the collection's hash
//! table (an unbounded collection) or in its recency list's node (a bounded one, which
//! must know which entry to evict). A write encodes the value; a read decodes it.
//! Holding the `JsonObject` itself (an insertion-ordered map: a hash table, a vector of
//! fields, and an allocation per string) cost far more than its JSON. Measured with
//! `cargo bench -p key-value-memory --bench vs_python -- rss 100000` (100,000 entries
//! of a value whose compact JSON is 100 bytes, growth of peak resident memory per
//! entry, in a process of its own):
//!
//! | how an entry was held | bytes per entry |
//! |---|---|
//! | `Arc<Entry>` (the `JsonObject` itself), key a `String`, in a recency list | 1,334 |
//! | key and compact JSON in one allocation, times as two integers, in a recency list | 214 |
//! | the same, inline in a hash table's slots (unbounded collections) | **182** |
//! | py-key-value-aio 0.5's `MemoryStore`, same workload | 671 |
//!
//! (At 1,000,000 entries the hash table's figure is 246 against the list's 229: the
//! peak includes the moment the table doubles, when its old and new slots are both
//! allocated.) The price of the compact form is a decoding per read and an encoding per
//! write, in place of a clone of the map. Per second of CPU time, the store did 34.7x to
//! 73x the operations of py-key-value-aio's store on each one-thread workload of
//! `scripts/bench-vs-python` (64 tasks on tokio's two workers: 20x–26x by the wall
//! clock); BENCHMARKS.md has the dated tables. Keeping unbounded
//! collections in a plain hash table in place of the recency list made puts 11–12%
//! cheaper. Reads build each map at its final size (the number of fields is kept with
//! the entry) and writes encode into a buffer kept per thread; what remains is mostly
//! the allocator, which a program can choose. A value nested more than 127 levels deep
//! cannot be read back by the JSON reader and is refused when written
//! (`ErrorKind::Serialization`).
//!
//! A large value made mostly of long strings gains nothing from the compact form: its
//! nodes' bookkeeping is a small share of its size, and encoding and decoding cost time
//! in proportion to its bytes. Such a value (at least 1 KiB of JSON, with at most one
//! node per 528 bytes, so that holding it costs at most a third more memory than its
//! JSON) is held as it is and cloned on reads; a write measures the value's nodes and
//! bytes first, without encoding it. A Fernet envelope is the typical case. The
//! 64 KiB value of key-value-fernet's `throughput.rs` on the bare store took 329 µs to
//! put and 46 µs to get as JSON, and takes 5.9 µs and 5.8 µs held (one loaded session,
//! both including the copy of the value the benchmark makes). The 2 KB envelope of a
//! 1 KiB value costs 2,656 bytes per entry held against 2,125 as JSON (20,000 entries,
//! peak RSS growth), and its put and get through the Fernet wrapper took 14–29% and
//! 24–53% less time held (two alternating runs).
//!
//! ```
//! use key_value_memory::MemoryStore;
//! use key_value_core::prelude::*;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::builder().max_entries_per_collection(1_000).build()?;
//!
//! let mut value = JsonObject::new();
//! value.insert("hits".into(), 1.into());
//! store.put("page:/", value, Some(Duration::from_secs(60)), Some("stats")).await?;
//!
//! let (value, ttl) = store.ttl("page:/", Some("stats")).await?.expect("just written");
//! assert_eq!(value["hits"], 1);
//! assert!(ttl.is_some_and(|left| left <= Duration::from_secs(60)));
//! # Ok(()) }
//! ```

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Entry, Error, ErrorKind, JsonObject, Result,
    async_trait, validate_default_collection,
};
use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};

mod table;
use table::Table;

/// One collection, locked on its own.
type Collection = Mutex<Entries>;

/// A collection's entries.
struct Entries {
    table: Table,
    /// Set, under the store's map write lock, when the collection became empty and was
    /// taken out of the map. A writer that still holds it must not write here (the
    /// entry would be lost with it): it looks the collection up again.
    detached: bool,
}

/// A stored entry. It hashes and compares as its key, so a collection finds it by `&str`.
enum Stored {
    /// The key's bytes, then the value's compact JSON, in one allocation.
    Encoded {
        text: Box<str>,
        key_len: u32,
        /// The value's number of fields, so that reading it builds its map at its size.
        fields: u32,
    },
    /// A value made mostly of long strings, held as it is (see [`Shape::is_bulky`]).
    Held(Arc<Held>),
}

// An entry's size counts in every entry's table slot or list node: holding large
// values must not grow it.
const _: () = assert!(std::mem::size_of::<Stored>() == 24);

/// A large value held as it is, with its key; shared, so that a read clones it after
/// the collection's lock is released.
struct Held {
    key: Box<str>,
    value: JsonObject,
}

/// How deeply a value may nest: the JSON reader follows 128 levels of arrays and
/// objects, counting the value itself.
const MAX_DEPTH: usize = 127;

/// A value's size, measured without encoding it.
#[derive(Default)]
struct Shape {
    /// Arrays, objects, and the values in them.
    nodes: usize,
    /// Bytes of its compact JSON, not counting escapes.
    bytes: usize,
    /// Levels of arrays and objects, the value itself being one; measured up to
    /// [`MAX_DEPTH`] + 1.
    depth: usize,
}

/// A held value costs about this many bytes per node more than its JSON: a map slot
/// with its key, value and index, and their allocations. (Measured: 20,000 Fernet
/// envelopes, an object of two fields, took 530 bytes per entry more held than as
/// JSON, whatever the size of their string.)
const HELD_BYTES_PER_NODE: usize = 176;

impl Shape {
    fn of(value: &JsonObject) -> Shape {
        let mut shape = Shape::default();
        shape.add_object(value, 1);
        shape
    }

    fn add_object(&mut self, object: &JsonObject, depth: usize) {
        self.depth = self.depth.max(depth);
        self.nodes += 1;
        self.bytes += 2 + object.len();
        for (key, value) in object {
            self.bytes += key.len() + 3;
            self.add(value, depth);
        }
    }

    fn add(&mut self, value: &serde_json::Value, depth: usize) {
        use serde_json::Value;
        // Deeper than the reader follows: refused whatever else it holds.
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::Object(object) => self.add_object(object, depth + 1),
            Value::Array(items) => {
                self.depth = self.depth.max(depth + 1);
                self.nodes += 1;
                self.bytes += 2 + items.len();
                for item in items {
                    self.add(item, depth + 1);
                }
            }
            Value::String(text) => {
                self.nodes += 1;
                self.bytes += text.len() + 2;
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                self.nodes += 1;
                self.bytes += 4;
            }
        }
    }

    /// A value made mostly of long strings: large enough that encoding and decoding it
    /// costs more than its nodes' bookkeeping, and with so few nodes for its size that
    /// holding it as it is costs at most a third more memory than its JSON. A Fernet
    /// envelope of a 1 KiB value (two fields, 2 KB) is one; 100-byte values are not, and
    /// neither is a long array of numbers.
    fn is_bulky(&self) -> bool {
        self.bytes >= HELD_FROM_BYTES
            && self.nodes.saturating_mul(HELD_BYTES_PER_NODE) <= self.bytes / 3
    }
}

/// The smallest value (bytes of JSON) that may be held as it is.
const HELD_FROM_BYTES: usize = 1024;

impl Stored {
    /// Encodes `value` after `key`, or holds it (a large value of few nodes). Fails
    /// only for a value nested deeper than the JSON reader follows (128 levels), which
    /// could be written but never read back.
    fn new(key: &str, value: JsonObject) -> Result<Stored> {
        let too_long = || {
            Error::new(ErrorKind::Serialization, "the key or value is too large")
                .with_store("memory")
        };
        let key_len = u32::try_from(key.len()).map_err(|_| too_long())?;
        let shape = Shape::of(&value);
        if shape.depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::Serialization,
                "the value is nested too deeply to be stored (at most 127 levels)",
            )
            .with_store("memory"));
        }
        if shape.is_bulky() {
            return Ok(Stored::Held(Arc::new(Held {
                key: Box::from(key),
                value,
            })));
        }
        thread_local! {
            /// The encoder's buffer, kept between writes on a thread.
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let encode = |bytes: &mut Vec<u8>| -> Result<Box<str>> {
            bytes.clear();
            bytes.extend_from_slice(key.as_bytes());
            serde_json::to_writer(&mut *bytes, &value).map_err(|_| unencodable())?;
            let text = std::str::from_utf8(bytes).map_err(|_| unencodable())?;
            // An allocation of the exact size: a shrunk buffer would keep its spare
            // capacity allocated (a sixth of a small entry).
            let text = Box::from(text);
            if bytes.capacity() > SCRATCH_KEPT {
                *bytes = Vec::new();
            }
            Ok(text)
        };
        let text = SCRATCH
            .try_with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut bytes) => encode(&mut bytes),
                Err(_) => encode(&mut Vec::new()),
            })
            .unwrap_or_else(|_| encode(&mut Vec::new()))?;
        Ok(Stored::Encoded {
            text,
            key_len,
            fields: u32::try_from(value.len()).map_err(|_| too_long())?,
        })
    }

    fn key(&self) -> &str {
        match self {
            Stored::Encoded { text, key_len, .. } => {
                text.get(..*key_len as usize).unwrap_or_default()
            }
            Stored::Held(held) => &held.key,
        }
    }
}

/// The largest encoder buffer a thread keeps between writes, in bytes.
const SCRATCH_KEPT: usize = 64 * 1024;

/// Values up to this size (bytes of JSON) are decoded under the collection's lock;
/// larger ones are copied out and decoded after it is released, so that a large value
/// does not hold the lock for its whole decoding.
const DECODE_UNDER_LOCK: usize = 4096;

impl Hash for Stored {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Stored {}

impl Borrow<str> for Stored {
    fn borrow(&self) -> &str {
        self.key()
    }
}

/// An entry's times, in whole microseconds since the Unix epoch (the precision of the
/// stored documents of the other stores); 0 means none.
#[derive(Debug, Clone, Copy)]
struct Times {
    expires: u64,
    created: u64,
}

impl Times {
    fn of(entry: &Entry) -> Times {
        Times {
            // An expiry at or before the epoch is long past: 1 keeps it expired.
            expires: entry.expires_at.map_or(0, |at| micros(at).max(1)),
            created: entry.created_at.map_or(0, micros),
        }
    }

    /// Expired at `now` (microseconds): an entry expires at its expiry instant.
    fn is_expired(self, now: u64) -> bool {
        self.expires != 0 && self.expires <= now
    }
}

/// Microseconds since the epoch, truncated; 0 before it, saturated far after it.
fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
    })
}

fn time_of(micros: u64) -> Option<SystemTime> {
    if micros == 0 {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_micros(micros))
}

fn now_micros() -> u64 {
    micros(SystemTime::now())
}

/// Decodes a stored value of `fields` fields (a hint: any count reads correctly).
fn decode(json: &str, fields: u32) -> Result<JsonObject> {
    let mut reader = serde_json::Deserializer::from_str(json);
    let value = reader
        .deserialize_map(ObjectOf(fields as usize))
        .and_then(|value| reader.end().map(|()| value));
    value.map_err(|_| {
        Error::new(
            ErrorKind::Deserialization,
            "the stored entry is unreadable: its value is not a JSON object",
        )
        .with_store("memory")
    })
}

/// Reads a JSON object into a map made at its size (the default grows it field by
/// field, reallocating on the way).
struct ObjectOf(usize);

impl<'de> Visitor<'de> for ObjectOf {
    type Value = JsonObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<JsonObject, A::Error> {
        let mut object = JsonObject::with_capacity(self.0.min(1024));
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        Ok(object)
    }
}

/// An entry taken out of a collection.
fn entry_of(json: &str, fields: u32, times: Times) -> Result<Entry> {
    Ok(Entry {
        value: decode(json, fields)?,
        created_at: time_of(times.created),
        expires_at: time_of(times.expires),
    })
}

fn unencodable() -> Error {
    Error::new(
        ErrorKind::Serialization,
        "the value cannot be encoded as JSON",
    )
    .with_store("memory")
}

/// An in-process store: fast, concurrent, optionally bounded per collection.
///
/// Cloning is not offered; share one store with `Arc<MemoryStore>` (itself a store).
pub struct MemoryStore {
    collections: RwLock<HashMap<String, Arc<Collection>>>,
    max_entries: Option<NonZeroUsize>,
    default_collection: String,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("collections", &read(&self.collections).len())
            .field("max_entries_per_collection", &self.max_entries)
            .field("default_collection", &self.default_collection)
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

/// Settings for a [`MemoryStore`]; start with [`MemoryStore::builder`].
#[derive(Debug, Clone, Default)]
pub struct MemoryStoreBuilder {
    max_entries: Option<usize>,
    default_collection: Option<String>,
}

impl MemoryStoreBuilder {
    /// Keeps at most `max` entries per collection, evicting the least recently used
    /// (read or written) when a new key arrives. Must be at least 1.
    pub fn max_entries_per_collection(mut self, max: usize) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// The collection used when an operation is given `None`
    /// (default: [`DEFAULT_COLLECTION`]).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// Builds the store; a bound of zero or an invalid collection name is a
    /// [`ErrorKind::Setup`] error.
    pub fn build(self) -> Result<MemoryStore> {
        let max_entries = match self.max_entries {
            None => None,
            Some(max) => Some(NonZeroUsize::new(max).ok_or_else(|| {
                Error::new(
                    ErrorKind::Setup,
                    "max_entries_per_collection must be at least 1",
                )
                .with_store("memory")
            })?),
        };
        let default_collection = self
            .default_collection
            .unwrap_or_else(|| DEFAULT_COLLECTION.to_owned());
        validate_default_collection("memory", &default_collection)?;
        Ok(MemoryStore {
            collections: RwLock::new(HashMap::new()),
            max_entries,
            default_collection,
        })
    }
}

impl MemoryStore {
    /// An unbounded store with the default collection [`DEFAULT_COLLECTION`].
    pub fn new() -> Self {
        MemoryStore {
            collections: RwLock::new(HashMap::new()),
            max_entries: None,
            default_collection: DEFAULT_COLLECTION.to_owned(),
        }
    }

    /// Settings for a bounded store or another default collection.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    fn existing(&self, collection: &str) -> Option<Arc<Collection>> {
        read(&self.collections).get(collection).cloned()
    }

    fn existing_or_new(&self, collection: &str) -> Arc<Collection> {
        if let Some(found) = self.existing(collection) {
            return found;
        }
        let mut collections = write(&self.collections);
        let max_entries = self.max_entries;
        collections
            .entry(collection.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Entries {
                    table: Table::new(max_entries),
                    detached: false,
                }))
            })
            .clone()
    }

    /// Takes `name` out of the map if `found` is still its collection and is empty, so
    /// that short-lived collections do not pile up. Emptiness is checked again under
    /// the map's write lock: a writer may have put an entry in since the caller looked.
    fn drop_if_empty(&self, name: &str, found: &Arc<Collection>) {
        let mut collections = write(&self.collections);
        if !collections
            .get(name)
            .is_some_and(|current| Arc::ptr_eq(current, found))
        {
            return;
        }
        let mut entries = lock(found);
        if entries.table.is_empty() {
            entries.detached = true;
            drop(entries);
            collections.remove(name);
        }
    }

    /// Puts `items` into `collection`, created if need be.
    fn put_all<I>(&self, collection: &str, mut items: I)
    where
        I: IntoIterator<Item = (Stored, Times)>,
    {
        loop {
            match put_into(&self.existing_or_new(collection), items) {
                Ok(()) => return,
                // Emptied and taken out of the map since the lookup: look it up again
                // (the map has another collection by that name now, or none).
                Err(back) => items = back,
            }
        }
    }

    /// Every collection, so locks are taken one collection at a time.
    fn all(&self) -> Vec<(String, Arc<Collection>)> {
        read(&self.collections)
            .iter()
            .map(|(name, collection)| (name.clone(), Arc::clone(collection)))
            .collect()
    }
}

/// An entry found under a collection's lock.
enum Found {
    /// A small value, decoded under the lock.
    Decoded(Result<Entry>),
    /// A large value's JSON and number of fields, to be decoded after the lock is
    /// released.
    Copied(String, u32, Times),
    /// A held value, to be cloned after the lock is released.
    Held(Arc<Held>, Times),
}

impl Found {
    fn into_entry(self) -> Result<Entry> {
        match self {
            Found::Decoded(entry) => entry,
            Found::Copied(json, fields, times) => entry_of(&json, fields, times),
            Found::Held(held, times) => Ok(Entry {
                value: held.value.clone(),
                created_at: time_of(times.created),
                expires_at: time_of(times.expires),
            }),
        }
    }
}

/// Takes `key`'s value out of a locked collection, dropping the entry if it has expired.
fn lookup(entries: &mut Table, key: &str, now: u64) -> Option<Found> {
    let (stored, times) = entries.get(key)?;
    if times.is_expired(now) {
        entries.pop(key);
        return None;
    }
    Some(match stored {
        Stored::Held(held) => Found::Held(Arc::clone(held), *times),
        Stored::Encoded {
            text,
            key_len,
            fields,
        } => {
            let json = text.get(*key_len as usize..).unwrap_or_default();
            if json.len() <= DECODE_UNDER_LOCK {
                Found::Decoded(entry_of(json, *fields, *times))
            } else {
                Found::Copied(json.to_owned(), *fields, *times)
            }
        }
    })
}

/// Whether `key` has a live entry in a locked collection, dropping it if it has expired.
fn is_live(entries: &mut Table, key: &str, now: u64) -> bool {
    let Some(times) = entries.peek(key) else {
        return false;
    };
    if times.is_expired(now) {
        entries.pop(key);
        return false;
    }
    true
}

/// Puts `items` into `target` under its lock, unless `target` has been detached from
/// the store's map (they would be lost with it): then they are handed back.
fn put_into<I>(target: &Collection, items: I) -> std::result::Result<(), I>
where
    I: IntoIterator<Item = (Stored, Times)>,
{
    let mut entries = lock(target);
    if entries.detached {
        return Err(items);
    }
    for (stored, times) in items {
        entries.table.put(stored, times);
    }
    Ok(())
}

fn has_live(entries: &Entries, now: u64) -> bool {
    entries
        .table
        .iter()
        .any(|(_, times)| !times.is_expired(now))
}

#[async_trait]
impl Backend for MemoryStore {
    fn name(&self) -> &str {
        "memory"
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
            atomic_put_many: true,
            max_entry_bytes: None,
            max_entries_per_collection: self.max_entries.map(NonZeroUsize::get),
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let Some(found) = self.existing(collection) else {
            return Ok(None);
        };
        let (entry, emptied) = {
            let mut entries = lock(&found);
            let had = entries.table.len();
            let entry = lookup(&mut entries.table, key, now_micros());
            (entry, had > 0 && entries.table.is_empty())
        };
        if emptied {
            // Dropping an expired entry emptied the collection.
            self.drop_if_empty(collection, &found);
        }
        entry.map(Found::into_entry).transpose()
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let Some(found) = self.existing(collection) else {
            return Ok(vec![None; keys.len()]);
        };
        let now = now_micros();
        let (copied, emptied) = {
            let mut entries = lock(&found);
            let had = entries.table.len();
            let copied: Vec<_> = keys
                .iter()
                .map(|key| lookup(&mut entries.table, key, now))
                .collect();
            (copied, had > 0 && entries.table.is_empty())
        };
        if emptied {
            self.drop_if_empty(collection, &found);
        }
        copied
            .into_iter()
            .map(|entry| entry.map(Found::into_entry).transpose())
            .collect()
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let times = Times::of(&entry);
        let item = std::iter::once((Stored::new(key, entry.value)?, times));
        self.put_all(collection, item);
        Ok(())
    }

    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let times = Times::of(&entry);
        let stored = Stored::new(key, entry.value)?;
        loop {
            let target = self.existing_or_new(collection);
            let mut entries = lock(&target);
            if entries.detached {
                // Emptied and taken out of the map since the lookup: look it up again.
                continue;
            }
            // Under the collection's lock, the check and the insert are one step.
            if is_live(&mut entries.table, key, now_micros()) {
                return Ok(false);
            }
            entries.table.put(stored, times);
            return Ok(true);
        }
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        // Encoded before the lock is taken: a value that cannot be stored leaves the
        // collection as it was.
        let entries = entries
            .into_iter()
            .map(|(key, entry)| {
                let times = Times::of(&entry);
                Ok((Stored::new(key, entry.value)?, times))
            })
            .collect::<Result<Vec<_>>>()?;
        self.put_all(collection, entries);
        Ok(())
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let Some(found) = self.existing(collection) else {
            return Ok(false);
        };
        let (removed, emptied) = {
            let mut entries = lock(&found);
            let removed = entries.table.pop(key);
            let emptied = removed.is_some() && entries.table.is_empty();
            (removed, emptied)
        };
        if emptied {
            self.drop_if_empty(collection, &found);
        }
        Ok(removed.is_some_and(|times| !times.is_expired(now_micros())))
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let Some(found) = self.existing(collection) else {
            return Ok(0);
        };
        let now = now_micros();
        let (removed, emptied) = {
            let mut entries = lock(&found);
            let had = entries.table.len();
            let removed = keys
                .iter()
                .filter_map(|key| entries.table.pop(key))
                .filter(|times| !times.is_expired(now))
                .count();
            (removed, had > 0 && entries.table.is_empty())
        };
        if emptied {
            self.drop_if_empty(collection, &found);
        }
        Ok(removed)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let Some(found) = self.existing(collection) else {
            return Ok(Vec::new());
        };
        let now = now_micros();
        let limit = limit.unwrap_or(usize::MAX);
        let entries = lock(&found);
        // Sized once from the number of entries (expired ones are few between culls).
        let mut keys = Vec::with_capacity(entries.table.len().min(limit));
        keys.extend(
            entries
                .table
                .iter()
                .filter(|(_, times)| !times.is_expired(now))
                .map(|(stored, _)| stored.key().to_owned())
                .take(limit),
        );
        Ok(keys)
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let now = now_micros();
        Ok(self
            .all()
            .into_iter()
            .filter(|(_, collection)| has_live(&lock(collection), now))
            .map(|(name, _)| name)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let removed = write(&self.collections).remove(collection);
        Ok(removed.is_some_and(|entries| has_live(&lock(&entries), now_micros())))
    }

    async fn remove_all(&self) -> Result<bool> {
        let removed = std::mem::take(&mut *write(&self.collections));
        let now = now_micros();
        Ok(removed
            .values()
            .any(|entries| has_live(&lock(entries), now)))
    }

    async fn remove_expired(&self) -> Result<()> {
        let now = now_micros();
        for (name, collection) in self.all() {
            let emptied = {
                let mut entries = lock(&collection);
                let had = entries.table.len();
                entries.table.retain(|times| !times.is_expired(now));
                had > 0 && entries.table.is_empty()
            };
            if emptied {
                self.drop_if_empty(&name, &collection);
            }
        }
        Ok(())
    }
}

// A panic in another task while it held a lock leaves the data consistent (every
// critical section here keeps it so at each step), so a poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::AsyncKeyValue;

    fn object(n: i64) -> key_value_core::JsonObject {
        let mut value = key_value_core::JsonObject::new();
        value.insert("n".into(), n.into());
        value
    }

    #[tokio::test]
    async fn reads_refresh_recency_in_bounded_collections() {
        let store = MemoryStore::builder()
            .max_entries_per_collection(2)
            .build()
            .unwrap();
        store.put("a", object(1), None, None).await.unwrap();
        store.put("b", object(2), None, None).await.unwrap();
        // Reading `a` makes `b` the least recently used, so `c` evicts `b`.
        assert!(store.get("a", None).await.unwrap().is_some());
        store.put("c", object(3), None, None).await.unwrap();
        assert!(store.get("a", None).await.unwrap().is_some());
        assert!(store.get("b", None).await.unwrap().is_none());
        assert!(store.get("c", None).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn bounds_are_per_collection() {
        let store = MemoryStore::builder()
            .max_entries_per_collection(1)
            .build()
            .unwrap();
        store.put("k", object(1), None, Some("x")).await.unwrap();
        store.put("k", object(2), None, Some("y")).await.unwrap();
        assert_eq!(store.get("k", Some("x")).await.unwrap(), Some(object(1)));
        assert_eq!(store.get("k", Some("y")).await.unwrap(), Some(object(2)));
    }

    #[test]
    fn bad_settings_are_setup_errors() {
        let zero = MemoryStore::builder().max_entries_per_collection(0).build();
        assert_eq!(zero.unwrap_err().kind(), ErrorKind::Setup);
        let empty = MemoryStore::builder().default_collection("").build();
        assert_eq!(empty.unwrap_err().kind(), ErrorKind::Setup);
    }

    #[tokio::test]
    async fn custom_default_collection_is_used_for_none() {
        let store = MemoryStore::builder()
            .default_collection("mine")
            .build()
            .unwrap();
        store.put("k", object(7), None, None).await.unwrap();
        assert_eq!(store.get("k", Some("mine")).await.unwrap(), Some(object(7)));
        assert_eq!(
            store.collections(None).await.unwrap(),
            vec!["mine".to_owned()]
        );
    }

    #[tokio::test]
    async fn cull_drops_expired_entries_from_memory() {
        let store = MemoryStore::new();
        let ttl = Some(std::time::Duration::from_millis(20));
        store.put("old", object(1), ttl, None).await.unwrap();
        store.put("live", object(2), None, None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        store.cull().await.unwrap();
        let found = store.existing(DEFAULT_COLLECTION).unwrap();
        assert_eq!(lock(&found).table.len(), 1);
    }

    fn collection_count(store: &MemoryStore) -> usize {
        read(&store.collections).len()
    }

    #[tokio::test]
    async fn emptied_collections_are_freed() {
        let store = MemoryStore::new();
        store.put("k", object(1), None, Some("one")).await.unwrap();
        store.put("k", object(1), None, Some("kept")).await.unwrap();
        assert_eq!(collection_count(&store), 2);
        assert!(store.delete("k", Some("one")).await.unwrap());
        assert!(store.existing("one").is_none());
        assert_eq!(collection_count(&store), 1);

        store
            .put_many(&["a", "b"], vec![object(1), object(2)], None, Some("many"))
            .await
            .unwrap();
        assert_eq!(store.delete_many(&["a"], Some("many")).await.unwrap(), 1);
        assert!(store.existing("many").is_some(), "b is still there");
        assert_eq!(
            store.delete_many(&["b", "x"], Some("many")).await.unwrap(),
            1
        );
        assert!(store.existing("many").is_none());

        // Expired entries leave through cull and through reads.
        let ttl = Some(std::time::Duration::from_millis(20));
        store
            .put("k", object(1), ttl, Some("culled"))
            .await
            .unwrap();
        store.put("k", object(1), ttl, Some("read")).await.unwrap();
        store
            .put("k", object(1), ttl, Some("read many"))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        store.cull().await.unwrap();
        assert!(store.existing("culled").is_none());
        assert!(
            store.existing("read").is_none(),
            "cull freed every expired one"
        );

        store.put("k", object(1), ttl, Some("read")).await.unwrap();
        store
            .put("k", object(1), ttl, Some("read many"))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        assert_eq!(store.get("k", Some("read")).await.unwrap(), None);
        assert!(store.existing("read").is_none());
        assert_eq!(
            store.get_many(&["k"], Some("read many")).await.unwrap(),
            vec![None]
        );
        assert!(store.existing("read many").is_none());

        assert_eq!(collection_count(&store), 1);
        assert_eq!(store.collections(None).await.unwrap(), vec!["kept"]);
        // A freed collection comes back with the next write.
        store.put("k", object(2), None, Some("one")).await.unwrap();
        assert_eq!(store.get("k", Some("one")).await.unwrap(), Some(object(2)));
    }

    #[tokio::test]
    async fn a_writer_holding_an_emptied_collection_looks_it_up_again() {
        let store = MemoryStore::new();
        store.put("k", object(1), None, Some("c")).await.unwrap();
        // A writer has looked the collection up but not yet locked it ...
        let seen = store.existing_or_new("c");
        // ... when the last key goes and the collection leaves the map.
        assert!(store.delete("k", Some("c")).await.unwrap());
        assert!(store.existing("c").is_none());
        // Writing into what the writer holds would lose the entry: it is refused,
        // and the writer's next lookup makes a new collection.
        let entry = Entry::new(object(2), None, SystemTime::now()).unwrap();
        let times = Times::of(&entry);
        let late = vec![(Stored::new("late", entry.value).unwrap(), times)];
        let Err(late) = put_into(&seen, late) else {
            panic!("a write went into a collection that had left the store");
        };
        store.put_all("c", late);
        let found = store.existing("c").unwrap();
        assert!(!Arc::ptr_eq(&found, &seen));
        assert_eq!(store.get("late", Some("c")).await.unwrap(), Some(object(2)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn concurrent_puts_survive_collections_emptied_by_deletes() {
        let store = Arc::new(MemoryStore::new());
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for round in 0..20_000 {
                        let key = format!("t{task}-{round}");
                        store
                            .put(&key, object(round), None, Some("busy"))
                            .await
                            .unwrap();
                        // Only this task deletes its keys: what it put must be there,
                        // even though other tasks keep emptying the collection.
                        assert_eq!(
                            store.get(&key, Some("busy")).await.unwrap(),
                            Some(object(round)),
                            "{key} was lost"
                        );
                        assert!(store.delete(&key, Some("busy")).await.unwrap(), "{key}");
                    }
                    let kept = format!("t{task}-kept");
                    store
                        .put(&kept, object(-1), None, Some("busy"))
                        .await
                        .unwrap();
                    kept
                })
            })
            .collect();
        let mut kept = Vec::new();
        for task in tasks {
            kept.push(task.await.unwrap());
        }
        let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
        let found = store.get_many(&kept, Some("busy")).await.unwrap();
        assert!(
            found.iter().all(|value| *value == Some(object(-1))),
            "{found:?}"
        );
        assert_eq!(
            store.keys(Some("busy"), None).await.unwrap().len(),
            kept.len()
        );
        assert!(store.delete_many(&kept, Some("busy")).await.unwrap() == kept.len());
        assert_eq!(collection_count(&store), 0);
    }

    fn nested(levels: usize) -> key_value_core::JsonObject {
        let mut value = serde_json::json!("leaf");
        for _ in 1..levels {
            value = serde_json::json!({ "n": value });
        }
        let mut object = key_value_core::JsonObject::new();
        object.insert("n".into(), value);
        object
    }

    #[tokio::test]
    async fn values_too_deep_to_read_back_are_refused_when_written() {
        let store = MemoryStore::new();
        let deep = nested(100);
        store.put("ok", deep.clone(), None, None).await.unwrap();
        assert_eq!(store.get("ok", None).await.unwrap(), Some(deep));

        let too_deep = nested(200);
        let refused = store.put("k", too_deep.clone(), None, None).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Serialization);
        let batch = store
            .put_many(&["a", "b"], vec![object(1), too_deep], None, None)
            .await;
        assert_eq!(batch.unwrap_err().kind(), ErrorKind::Serialization);
        assert_eq!(store.get("a", None).await.unwrap(), None, "all or nothing");
        assert_eq!(store.get("k", None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn values_read_back_exactly_and_in_order() {
        let store = MemoryStore::new();
        let mut value = key_value_core::JsonObject::new();
        value.insert("z".into(), 0.1.into());
        value.insert(
            "a".into(),
            serde_json::json!([1.0, -0.0, 1e300, u64::MAX, i64::MIN]),
        );
        value.insert("m".into(), "\u{e9}\"\\\n".into());
        store.put("k", value.clone(), None, None).await.unwrap();
        let back = store.get("k", None).await.unwrap().unwrap();
        assert_eq!(back, value);
        assert!(back.keys().eq(["z", "a", "m"].iter()));
        // A large value of many nodes is kept as JSON and decoded outside the lock.
        let numbers: Vec<f64> = (0..2 * DECODE_UNDER_LOCK).map(|n| n as f64 / 7.0).collect();
        let mut many = value.clone();
        many.insert("numbers".into(), numbers.into());
        assert!(!Shape::of(&many).is_bulky());
        store.put("many", many.clone(), None, None).await.unwrap();
        assert_eq!(store.get("many", None).await.unwrap(), Some(many));
        // A large value of few nodes is held as it is.
        value.insert("big".into(), "x".repeat(2 * DECODE_UNDER_LOCK).into());
        assert!(Shape::of(&value).is_bulky());
        store.put("big", value.clone(), None, None).await.unwrap();
        let mut back = store.get("big", None).await.unwrap().unwrap();
        assert_eq!(back, value);
        assert!(back.keys().eq(["z", "a", "m", "big"].iter()));
        // What a read returns is a copy.
        back.insert("big".into(), "changed".into());
        let (again, ttl) = store.ttl("big", None).await.unwrap().unwrap();
        assert_eq!((again, ttl), (value.clone(), None));
        let both = store.get_many(&["big", "many"], None).await.unwrap();
        assert_eq!(both[0], Some(value));
    }

    #[test]
    fn only_large_values_of_few_nodes_are_held() {
        let object = |value: serde_json::Value| value.as_object().cloned().unwrap();
        let envelope = |size: usize| {
            object(serde_json::json!({
                "__encrypted_data__": "Z".repeat(size),
                "__encryption_version__": 1,
            }))
        };
        // A Fernet envelope of a 1 KiB value is 1,952 bytes of text; of 100 bytes, 260.
        assert!(Shape::of(&envelope(1952)).is_bulky());
        assert!(Shape::of(&envelope(87_000)).is_bulky());
        assert!(!Shape::of(&envelope(260)).is_bulky());
        let hundred = object(serde_json::json!({
            "id": "00000001", "scope": "read write", "blob": "x".repeat(46), "n": 1,
        }));
        assert!(!Shape::of(&hundred).is_bulky());
        let strings: Vec<String> = (0..1000).map(|n| format!("item-{n}")).collect();
        assert!(!Shape::of(&object(serde_json::json!({ "list": strings }))).is_bulky());
    }

    #[tokio::test]
    async fn depth_is_measured_as_the_reader_counts_it() {
        let store = MemoryStore::new();
        // The reader follows 127 levels; the top object is the first.
        let deepest = nested(127);
        assert!(decode(&serde_json::to_string(&deepest).unwrap(), 0).is_ok());
        store.put("ok", deepest.clone(), None, None).await.unwrap();
        assert_eq!(store.get("ok", None).await.unwrap(), Some(deepest));
        let too_deep = nested(128);
        assert!(decode(&serde_json::to_string(&too_deep).unwrap(), 0).is_err());
        let refused = store.put("k", too_deep, None, None).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Serialization);
        // Held values are refused the same way.
        let mut big = nested(128);
        big.insert("big".into(), "x".repeat(100_000).into());
        let refused = store.put("k", big, None, None).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Serialization);
    }

    #[tokio::test]
    async fn debug_shows_no_values() {
        let store = MemoryStore::new();
        let mut value = key_value_core::JsonObject::new();
        value.insert("token".into(), "s3cr3t".into());
        store.put("k", value, None, None).await.unwrap();
        let text = format!("{store:?}");
        assert!(text.contains("MemoryStore"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
