//! A SQLite store of the key-value family: one table in one database file.
//!
//! The file is opened in WAL mode with a busy timeout, so several processes can read
//! and write it at once; `put_many` and `delete_many` run in one transaction (a batch is
//! written whole or not at all). SQLite is compiled in (no system library needed), and
//! the blocking calls run on tokio's blocking pool over a small pool of connections.
//!
//! ```
//! use key_value_sqlite::SqliteStore;
//! use key_value_core::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| key_value_core::Error::new(ErrorKind::Setup, e.to_string()))?;
//! # let path = dir.path().join("cache.db");
//! let store = SqliteStore::open(&path).await?;
//! let mut value = JsonObject::new();
//! value.insert("hits".into(), 1.into());
//! store.put_many(&["a", "b"], vec![value.clone(), value], None, Some("pages")).await?;
//! assert_eq!(store.delete_many(&["a", "b"], Some("pages")).await?, 2);
//! # Ok(()) }
//! ```
//!
//! # Schema
//!
//! ```sql
//! CREATE TABLE keyvalue_entries (
//!     collection TEXT    NOT NULL,
//!     key        TEXT    NOT NULL,
//!     value      TEXT    NOT NULL,            -- the value, a JSON object (compact)
//!     created_at INTEGER,                     -- microseconds since the Unix epoch
//!     expires_at INTEGER,                     -- microseconds since the Unix epoch; NULL: never
//!     version    INTEGER NOT NULL DEFAULT 1,  -- the entry format version
//!     PRIMARY KEY (collection, key)
//! ) WITHOUT ROWID;
//! CREATE INDEX keyvalue_entries_expiry ON keyvalue_entries (expires_at)
//!     WHERE expires_at IS NOT NULL;
//! ```
//!
//! The table may live in a database that holds other tables. Opening a file that is not
//! a SQLite database, or whose `keyvalue_entries` table has other columns, is an
//! [`ErrorKind::Setup`] error: the store never rewrites what it did not create.

mod pool;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Durability, Entry, Error, ErrorKind, Result,
    async_trait, check_version, decode_value, validate_default_collection,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use pool::Pool;

/// The table the store keeps its entries in.
pub const TABLE: &str = "keyvalue_entries";

/// A store in a SQLite database file; see the [crate docs](crate).
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
    default_collection: String,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.pool.path())
            .field("connections", &self.pool.size())
            .field("default_collection", &self.default_collection)
            .finish()
    }
}

/// Settings for a [`SqliteStore`]; start with [`SqliteStore::builder`].
#[derive(Debug, Clone)]
pub struct SqliteStoreBuilder {
    path: PathBuf,
    durability: Durability,
    busy_timeout: Duration,
    connections: usize,
    default_collection: String,
}

impl SqliteStoreBuilder {
    /// What acknowledged writes survive (default [`Durability::PowerLoss`]:
    /// `synchronous = FULL`; [`Durability::ProcessCrash`] is `synchronous = NORMAL`).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How long a call waits for another process's lock before failing (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many connections calls share (default 4; at least 1).
    pub fn connections(mut self, connections: usize) -> Self {
        self.connections = connections.max(1);
        self
    }

    /// The collection used when an operation is given `None`
    /// (default: [`DEFAULT_COLLECTION`]).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = collection.into();
        self
    }

    /// Opens (creating if needed) the database and the table.
    pub async fn open(self) -> Result<SqliteStore> {
        validate_default_collection("sqlite", &self.default_collection)?;
        let settings = self.clone();
        let pool = tokio::task::spawn_blocking(move || Pool::open(&settings))
            .await
            .map_err(|e| setup("opening the database was cancelled".into()).with_source(e))??;
        Ok(SqliteStore {
            pool: Arc::new(pool),
            default_collection: self.default_collection,
        })
    }
}

fn setup(message: String) -> Error {
    Error::new(ErrorKind::Setup, message).with_store("sqlite")
}

/// Prepares a fresh connection: pragmas, and on the first one the table.
fn configure(connection: &Connection, settings: &SqliteStoreBuilder, first: bool) -> Result<()> {
    let failed = |what: &str, e: rusqlite::Error| {
        setup(format!(
            "could not {what} in {}: {}",
            settings.path.display(),
            describe(&e)
        ))
        .with_source(e)
    };
    connection
        .busy_timeout(settings.busy_timeout)
        .map_err(|e| failed("set the busy timeout", e))?;
    if first {
        // Also the first read of the file: a file that is not a database fails here.
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| failed("switch to WAL mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite kept its journal mode; concurrent use is slower"
            );
        }
    }
    let synchronous = match settings.durability {
        Durability::PowerLoss => "FULL",
        Durability::ProcessCrash => "NORMAL",
    };
    connection
        .pragma_update(None, "synchronous", synchronous)
        .map_err(|e| failed("set synchronous", e))?;
    if first {
        create_or_check_table(connection).map_err(|e| match e.kind() {
            ErrorKind::Setup => e,
            _ => setup(format!(
                "could not prepare {}: {}",
                settings.path.display(),
                e.message()
            )),
        })?;
    }
    Ok(())
}

const COLUMNS: [&str; 6] = [
    "collection",
    "key",
    "value",
    "created_at",
    "expires_at",
    "version",
];

fn create_or_check_table(connection: &Connection) -> Result<()> {
    let mut columns: Vec<String> = Vec::new();
    {
        let mut statement = connection
            .prepare(&format!("PRAGMA table_info({TABLE})"))
            .map_err(sql_error)?;
        let names = statement
            .query_map([], |row| row.get::<_, String>(1))
            .map_err(sql_error)?;
        for name in names {
            columns.push(name.map_err(sql_error)?);
        }
    }
    if columns.is_empty() {
        connection
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (
                    collection TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    created_at INTEGER,
                    expires_at INTEGER,
                    version INTEGER NOT NULL DEFAULT 1,
                    PRIMARY KEY (collection, key)
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS {TABLE}_expiry ON {TABLE} (expires_at)
                    WHERE expires_at IS NOT NULL;"
            ))
            .map_err(sql_error)?;
        return Ok(());
    }
    if columns != COLUMNS {
        return Err(setup(format!(
            "the table {TABLE} exists with the columns {columns:?}, not {COLUMNS:?}; \
             refusing to use or change it"
        )));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens the store in the database file at `path` with the default settings.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteStore::builder(path).open().await
    }

    /// Settings for a store in the database file at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: path.as_ref().to_path_buf(),
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(5),
            connections: 4,
            default_collection: DEFAULT_COLLECTION.to_owned(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    /// Runs `work` with a pooled connection on the blocking pool.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || pool.with(work))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Backend,
                    "a database call was cancelled or panicked",
                )
                .with_source(e)
            })?
    }
}

/// What a SQLite error means for the caller.
fn sql_error(e: rusqlite::Error) -> Error {
    let kind = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::TooBig) => ErrorKind::ValueTooLarge,
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            // Another process held the lock past the busy timeout: worth retrying.
            return Error::new(ErrorKind::Backend, describe(&e))
                .with_retryable(true)
                .with_source(e);
        }
        Some(rusqlite::ErrorCode::ReadOnly) => ErrorKind::ReadOnly,
        _ => ErrorKind::Backend,
    };
    Error::new(kind, describe(&e)).with_source(e)
}

fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(failure, Some(message)) => {
            format!("{message} ({:?})", failure.code)
        }
        rusqlite::Error::SqliteFailure(failure, None) => format!("{:?}", failure.code),
        other => other.to_string(),
    }
}

fn micros(at: SystemTime) -> Option<i64> {
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_micros()).ok())
}

fn from_micros(us: i64) -> Option<SystemTime> {
    u64::try_from(us)
        .ok()
        .and_then(|us| UNIX_EPOCH.checked_add(Duration::from_micros(us)))
}

fn now_micros() -> i64 {
    micros(SystemTime::now()).unwrap_or(i64::MAX)
}

/// One row as stored.
struct Row {
    value: String,
    created_at: Option<i64>,
    expires_at: Option<i64>,
    version: i64,
}

impl Row {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Row {
            value: row.get(0)?,
            created_at: row.get(1)?,
            expires_at: row.get(2)?,
            version: row.get(3)?,
        })
    }

    fn into_entry(self) -> Result<Entry> {
        let version = u64::try_from(self.version).map_err(|_| {
            Error::new(
                ErrorKind::Deserialization,
                "the stored entry has a negative version",
            )
        })?;
        check_version(version)?;
        let timestamp = |us: Option<i64>, what: &str| match us {
            None => Ok(None),
            Some(us) => from_micros(us).map(Some).ok_or_else(|| {
                Error::new(
                    ErrorKind::Deserialization,
                    format!("the stored entry's {what} is out of range"),
                )
            }),
        };
        Ok(Entry {
            value: decode_value(self.value.as_bytes())?,
            created_at: timestamp(self.created_at, "created_at")?,
            expires_at: timestamp(self.expires_at, "expires_at")?,
        })
    }
}

const SELECT: &str = "SELECT value, created_at, expires_at, version FROM keyvalue_entries WHERE collection = ?1 AND key = ?2";
const UPSERT: &str =
    "INSERT INTO keyvalue_entries (collection, key, value, created_at, expires_at, version)
     VALUES (?1, ?2, ?3, ?4, ?5, 1)
     ON CONFLICT (collection, key) DO UPDATE SET
         value = excluded.value, created_at = excluded.created_at,
         expires_at = excluded.expires_at, version = excluded.version";
/// [`UPSERT`] that replaces only an expired entry: one statement, so the check and the
/// write are atomic against every other connection and process.
const INSERT_IF_ABSENT: &str =
    "INSERT INTO keyvalue_entries (collection, key, value, created_at, expires_at, version)
     VALUES (?1, ?2, ?3, ?4, ?5, 1)
     ON CONFLICT (collection, key) DO UPDATE SET
         value = excluded.value, created_at = excluded.created_at,
         expires_at = excluded.expires_at, version = excluded.version
     WHERE keyvalue_entries.expires_at IS NOT NULL AND keyvalue_entries.expires_at <= ?6";
const DELETE: &str =
    "DELETE FROM keyvalue_entries WHERE collection = ?1 AND key = ?2 RETURNING expires_at";
const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";

fn read_one(connection: &Connection, collection: &str, key: &str) -> Result<Option<Entry>> {
    let row = connection
        .prepare_cached(SELECT)
        .map_err(sql_error)?
        .query_row(params![collection, key], Row::read)
        .optional()
        .map_err(sql_error)?;
    row.map(Row::into_entry).transpose()
}

fn write_one(connection: &Connection, collection: &str, key: &str, entry: &Entry) -> Result<()> {
    let value = serde_json_compact(&entry.value)?;
    connection
        .prepare_cached(UPSERT)
        .map_err(sql_error)?
        .execute(params![
            collection,
            key,
            value,
            entry.created_at.and_then(micros),
            entry.expires_at.and_then(micros),
        ])
        .map_err(sql_error)?;
    Ok(())
}

/// Writes `entry` unless a live one is there; returns whether it wrote.
fn create_one(connection: &Connection, collection: &str, key: &str, entry: &Entry) -> Result<bool> {
    let value = serde_json_compact(&entry.value)?;
    let changed = connection
        .prepare_cached(INSERT_IF_ABSENT)
        .map_err(sql_error)?
        .execute(params![
            collection,
            key,
            value,
            entry.created_at.and_then(micros),
            entry.expires_at.and_then(micros),
            now_micros(),
        ])
        .map_err(sql_error)?;
    Ok(changed == 1)
}

fn remove_one(connection: &Connection, collection: &str, key: &str, now: i64) -> Result<bool> {
    let removed: Option<Option<i64>> = connection
        .prepare_cached(DELETE)
        .map_err(sql_error)?
        .query_row(params![collection, key], |row| row.get(0))
        .optional()
        .map_err(sql_error)?;
    Ok(matches!(removed, Some(expires) if expires.is_none_or(|at| at > now)))
}

fn serde_json_compact(value: &key_value_core::JsonObject) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        Error::new(ErrorKind::Serialization, "could not encode the value").with_source(e)
    })
}

/// Whether any live entry matches `filter` (a WHERE clause with at most one parameter).
fn any_live(connection: &Connection, filter: &str, collection: Option<&str>) -> Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE {filter} AND {LIVE})");
    let now = now_micros();
    let exists: bool = match collection {
        Some(collection) => connection.query_row(&sql, params![collection, now], |row| row.get(0)),
        None => connection.query_row(&sql, params![now], |row| row.get(0)),
    }
    .map_err(sql_error)?;
    Ok(exists)
}

#[async_trait]
impl Backend for SqliteStore {
    fn name(&self) -> &str {
        "sqlite"
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
            max_entries_per_collection: None,
            put_if_absent: true,
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        if let Some(found) = self
            .pool
            .try_inline(|connection| read_one(connection, collection, key))
        {
            return found;
        }
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |connection| read_one(connection, &collection, &key))
            .await
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let collection = collection.to_owned();
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        self.run(move |connection| {
            // One read transaction: every slot sees the same snapshot.
            let transaction = connection.transaction().map_err(sql_error)?;
            let entries = keys
                .iter()
                .map(|key| read_one(&transaction, &collection, key).map_err(|e| e.with_key(key)))
                .collect();
            transaction.finish().map_err(sql_error)?;
            entries
        })
        .await
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |connection| write_one(connection, &collection, &key, &entry))
            .await
    }

    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |connection| create_one(connection, &collection, &key, &entry))
            .await
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        let collection = collection.to_owned();
        let entries: Vec<(String, Entry)> = entries
            .into_iter()
            .map(|(key, entry)| (key.to_owned(), entry))
            .collect();
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            for (key, entry) in &entries {
                write_one(&transaction, &collection, key, entry).map_err(|e| e.with_key(key))?;
            }
            transaction.commit().map_err(sql_error)
        })
        .await
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.run(move |connection| remove_one(connection, &collection, &key, now_micros()))
            .await
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let collection = collection.to_owned();
        let keys: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        self.run(move |connection| {
            let now = now_micros();
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let mut removed = 0;
            for key in &keys {
                if remove_one(&transaction, &collection, key, now).map_err(|e| e.with_key(key))? {
                    removed += 1;
                }
            }
            transaction.commit().map_err(sql_error)?;
            Ok(removed)
        })
        .await
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let collection = collection.to_owned();
        self.run(move |connection| {
            let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let mut statement = connection
                .prepare_cached(
                    "SELECT key FROM keyvalue_entries WHERE collection = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2) LIMIT ?3",
                )
                .map_err(sql_error)?;
            let keys = statement
                .query_map(params![collection, now_micros(), limit], |row| row.get(0))
                .map_err(sql_error)?;
            keys.collect::<rusqlite::Result<Vec<String>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.run(move |connection| {
            let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT DISTINCT collection FROM {TABLE} WHERE {LIVE} LIMIT ?"
                ))
                .map_err(sql_error)?;
            let names = statement
                .query_map(params![now_micros(), limit], |row| row.get(0))
                .map_err(sql_error)?;
            names
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let collection = collection.to_owned();
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let had_live = any_live(&transaction, "collection = ?", Some(&collection))?;
            transaction
                .execute(
                    &format!("DELETE FROM {TABLE} WHERE collection = ?1"),
                    params![collection],
                )
                .map_err(sql_error)?;
            transaction.commit().map_err(sql_error)?;
            Ok(had_live)
        })
        .await
    }

    async fn remove_all(&self) -> Result<bool> {
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let had_live = any_live(&transaction, "1", None)?;
            transaction
                .execute(&format!("DELETE FROM {TABLE}"), [])
                .map_err(sql_error)?;
            transaction.commit().map_err(sql_error)?;
            Ok(had_live)
        })
        .await
    }

    async fn remove_expired(&self) -> Result<()> {
        self.run(move |connection| {
            connection
                .execute(
                    &format!("DELETE FROM {TABLE} WHERE expires_at <= ?1"),
                    params![now_micros()],
                )
                .map_err(sql_error)?;
            Ok(())
        })
        .await
    }
}

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
