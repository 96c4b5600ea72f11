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
//! a SQLite database, or whose `keyvalue_entries` table the store cannot use correctly
//! (other columns, a column type that changes what is written, no `PRIMARY KEY
//! (collection, key)` with the `BINARY` collation, a view), is an [`ErrorKind::Setup`]
//! error that says what is wrong: the store never rewrites what it did not create.
//!
//! A row of the wrong type (a value, time or version that is a BLOB, a number, NULL,
//! not UTF-8 or not a JSON object) is an [`ErrorKind::Deserialization`] error for its
//! key alone; a row whose key or collection is not UTF-8 text is skipped by enumeration
//! with a `tracing` warning.
//!
//! The path is always a file path: `file:…` and `:memory:` are file names, never a URI
//! or an in-memory database. A new file is owner-only (0600), and so are the `-wal` and
//! `-shm` files SQLite makes beside it; a dangling link, a directory or a special file at
//! the path is refused (see the README).

mod pool;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Durability, Entry, Error, ErrorKind, Result,
    async_trait, check_version, decode_value, validate_default_collection,
};
use rusqlite::types::ValueRef;
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
    /// `synchronous = FULL`; [`Durability::ProcessCrash`] is `synchronous = NORMAL`, and so
    /// is [`Durability::PowerLossAtomic`] in WAL mode, where NORMAL only ever rolls back
    /// whole commits; a database SQLite keeps out of WAL mode gets FULL for it).
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
        Durability::ProcessCrash => "NORMAL",
        // In WAL mode NORMAL never leaves a torn commit after power loss, it only rolls
        // the latest ones back: what `PowerLossAtomic` promises. A rollback journal
        // needs FULL for that.
        Durability::PowerLossAtomic => {
            let mode: String = connection
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .map_err(|e| failed("read the journal mode", e))?;
            if mode.eq_ignore_ascii_case("wal") {
                "NORMAL"
            } else {
                "FULL"
            }
        }
        _ => "FULL",
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

/// The columns in order, and the type affinity each must have (see [`affinity`]).
const COLUMNS: [(&str, Affinity); 6] = [
    ("collection", Affinity::Text),
    ("key", Affinity::Text),
    ("value", Affinity::Text),
    ("created_at", Affinity::Integer),
    ("expires_at", Affinity::Integer),
    ("version", Affinity::Integer),
];

/// SQLite's type affinity of a column, from its declared type
/// (<https://sqlite.org/datatype3.html>, section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

fn affinity(declared: &str) -> Affinity {
    let declared = declared.to_ascii_uppercase();
    let has = |part: &str| declared.contains(part);
    if has("INT") {
        Affinity::Integer
    } else if has("CHAR") || has("CLOB") || has("TEXT") {
        Affinity::Text
    } else if has("BLOB") || declared.trim().is_empty() {
        Affinity::Blob
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

/// Whether a column declared with `found` affinity keeps what the store writes as it
/// wrote it. Names and values are written as text: an INTEGER, REAL or NUMERIC column
/// would turn the key `"1"` into the number 1, which enumeration cannot return. Times and
/// versions are written as integers: a TEXT or REAL column would turn them into text or
/// floats, which no read accepts.
fn keeps(wanted: Affinity, found: Affinity) -> bool {
    match wanted {
        Affinity::Text => matches!(found, Affinity::Text | Affinity::Blob),
        _ => matches!(
            found,
            Affinity::Integer | Affinity::Numeric | Affinity::Blob
        ),
    }
}

/// One row of `PRAGMA table_info`.
struct Column {
    name: String,
    declared: String,
}

fn create_or_check_table(connection: &Connection) -> Result<()> {
    let mut columns: Vec<Column> = Vec::new();
    {
        let mut statement = connection
            .prepare(&format!("PRAGMA table_info({TABLE})"))
            .map_err(sql_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok(Column {
                    name: row.get(1)?,
                    declared: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            })
            .map_err(sql_error)?;
        for column in rows {
            columns.push(column.map_err(sql_error)?);
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
    check_table(connection, &columns).map_err(|why| {
        setup(format!(
            "the table {TABLE} exists but {why}; refusing to use or change it"
        ))
    })
}

/// What is wrong with an existing table, if anything that matters for correctness.
///
/// Checked: a real table (not a view or a virtual table); the columns, their order and
/// their type affinities; a primary key of exactly `(collection, key)` in that order,
/// compared with the `BINARY` collation (with `NOCASE`, the keys `A` and `a` would be one
/// entry). Not checked, because every read and write is correct without them: `NOT
/// NULL` (a NULL the store never writes reads as a `Deserialization` error for that entry),
/// `WITHOUT ROWID` (a rowid table is slower, not wrong), and the expiry index.
fn check_table(connection: &Connection, columns: &[Column]) -> std::result::Result<(), String> {
    let sql: Option<String> = connection
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            params![TABLE],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| format!("its definition cannot be read ({})", describe(&e)))?
        .flatten();
    let Some(sql) = sql else {
        return Err("is not a table (a view?)".into());
    };
    if sql
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("CREATE VIRTUAL")
    {
        return Err("is a virtual table".into());
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let wanted: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    if names != wanted {
        return Err(format!("has the columns {names:?}, not {wanted:?}"));
    }
    for (column, (name, wanted)) in columns.iter().zip(COLUMNS) {
        let found = affinity(&column.declared);
        if !keeps(wanted, found) {
            return Err(format!(
                "its column {name} is declared `{}` ({found:?} affinity), where the store \
                 needs {wanted:?} affinity",
                column.declared.escape_debug()
            ));
        }
    }
    let key = primary_key(connection)
        .map_err(|e| format!("its primary key cannot be read ({})", describe(&e)))?;
    let wanted_key = [
        ("collection".to_owned(), "BINARY".to_owned()),
        ("key".to_owned(), "BINARY".to_owned()),
    ];
    match key {
        None => Err("has no PRIMARY KEY (collection, key)".into()),
        Some(key) if key != wanted_key => {
            let shown: Vec<String> = key
                .iter()
                .map(|(name, collation)| format!("{name} COLLATE {collation}"))
                .collect();
            Err(format!(
                "its primary key is ({}), not (collection, key) with the BINARY collation",
                shown.join(", ")
            ))
        }
        Some(_) => Ok(()),
    }
}

/// The primary key's columns in order, each with its collation; `None` when the table
/// has no primary key index (no primary key, or a single `INTEGER PRIMARY KEY`).
fn primary_key(connection: &Connection) -> rusqlite::Result<Option<Vec<(String, String)>>> {
    let mut statement = connection.prepare(&format!("PRAGMA index_list({TABLE})"))?;
    let indexes = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(1)?, row.get::<_, String>(3)?))
        })?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    let Some((index, _)) = indexes.into_iter().find(|(_, origin)| origin == "pk") else {
        return Ok(None);
    };
    let mut statement = connection
        .prepare("SELECT name, coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno")?;
    let columns = statement
        .query_map(params![index], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                row.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(columns))
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

/// A column that does not hold what the schema says: a `Deserialization` error for the
/// one entry, naming the column and what it holds instead (never the content).
fn wrong_type(column: &str, found: ValueRef<'_>, wanted: &str) -> Error {
    Error::new(
        ErrorKind::Deserialization,
        format!(
            "the stored entry is unreadable: its {column} column holds {}, not {wanted}",
            describe_value(found)
        ),
    )
}

/// What a stored value is, for messages: its SQLite type (and size), never its content.
fn describe_value(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(_) => "an INTEGER".into(),
        ValueRef::Real(_) => "a REAL".into(),
        ValueRef::Text(text) if std::str::from_utf8(text).is_err() => {
            format!("TEXT that is not UTF-8 ({} bytes)", text.len())
        }
        ValueRef::Text(text) => format!("TEXT ({} bytes)", text.len()),
        ValueRef::Blob(blob) => format!("a BLOB ({} bytes)", blob.len()),
    }
}

/// An optional timestamp column: an INTEGER of microseconds since the epoch, or NULL.
fn timestamp_column(
    row: &rusqlite::Row<'_>,
    index: usize,
    column: &str,
) -> rusqlite::Result<Result<Option<SystemTime>>> {
    Ok(match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(us) => from_micros(us).map(Some).ok_or_else(|| {
            Error::new(
                ErrorKind::Deserialization,
                format!("the stored entry is unreadable: its {column} is out of range"),
            )
        }),
        other => Err(wrong_type(
            column,
            other,
            "an INTEGER (microseconds) or NULL",
        )),
    })
}

/// One row of `SELECT value, created_at, expires_at, version` as an entry. The outer
/// result is SQLite's (a failed step); the inner one is the row's own: a column of the
/// wrong type is a `Deserialization` error for this entry alone.
fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Entry>> {
    let version = match row.get_ref(3)? {
        ValueRef::Integer(version) => match u64::try_from(version) {
            Ok(version) => check_version(version),
            Err(_) => Err(Error::new(
                ErrorKind::Deserialization,
                "the stored entry has a negative version",
            )),
        },
        other => Err(wrong_type("version", other, "an INTEGER")),
    };
    if let Err(e) = version {
        return Ok(Err(e));
    }
    let value = match row.get_ref(0)? {
        // Invalid UTF-8 fails here too: JSON is UTF-8.
        ValueRef::Text(json) => decode_value(json),
        other => Err(wrong_type("value", other, "TEXT holding a JSON object")),
    };
    let created_at = timestamp_column(row, 1, "created_at")?;
    let expires_at = timestamp_column(row, 2, "expires_at")?;
    Ok(match (value, created_at, expires_at) {
        (Ok(value), Ok(created_at), Ok(expires_at)) => Ok(Entry {
            value,
            created_at,
            expires_at,
        }),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
    })
}

/// A name column read during enumeration: the name if it is UTF-8 text, or `None`
/// (with a warning) for a row the store did not write and cannot name.
fn enumerated_name(
    row: &rusqlite::Row<'_>,
    column: &str,
    collection: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    let found = row.get_ref(0)?;
    if let ValueRef::Text(text) = found
        && let Ok(name) = std::str::from_utf8(text)
    {
        return Ok(Some(name.to_owned()));
    }
    tracing::warn!(
        store = "sqlite",
        collection,
        column,
        found = %describe_value(found),
        "skipping a row whose {column} is not UTF-8 text: no key or collection can name it"
    );
    Ok(None)
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
        .query_row(params![collection, key], read_row)
        .optional()
        .map_err(sql_error)?;
    row.transpose()
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
    // `Some(live)` when a row was deleted. A row whose expiry is not an integer was
    // unreadable, not expired: it counts as there.
    let removed: Option<bool> = connection
        .prepare_cached(DELETE)
        .map_err(sql_error)?
        .query_row(params![collection, key], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Integer(at) => at > now,
                _ => true,
            })
        })
        .optional()
        .map_err(sql_error)?;
    Ok(removed == Some(true))
}

/// Up to `limit` names from an enumeration, skipping the rows that have none. The limit
/// is applied here rather than in SQL so that a skipped row does not shorten the list.
fn take_names(
    rows: impl Iterator<Item = rusqlite::Result<Option<String>>>,
    limit: Option<usize>,
) -> Result<Vec<String>> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut names = Vec::new();
    for row in rows {
        if names.len() >= limit {
            break;
        }
        if let Some(name) = row.map_err(sql_error)? {
            names.push(name);
        }
    }
    Ok(names)
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
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        // On the blocking pool like every call: even a read from the page cache may go
        // to the file, and a runtime worker must never wait for a disk (or a network
        // file system that hangs).
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
            let mut statement = connection
                .prepare_cached(
                    "SELECT key FROM keyvalue_entries WHERE collection = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2)",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map(params![collection, now_micros()], |row| {
                    enumerated_name(row, "key", Some(&collection))
                })
                .map_err(sql_error)?;
            take_names(rows, limit)
        })
        .await
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.run(move |connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT DISTINCT collection FROM {TABLE} WHERE {LIVE}"
                ))
                .map_err(sql_error)?;
            let rows = statement
                .query_map(params![now_micros()], |row| {
                    enumerated_name(row, "collection", None)
                })
                .map_err(sql_error)?;
            take_names(rows, limit)
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
