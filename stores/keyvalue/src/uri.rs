//! Stores named by a URI: `sqlite:PATH`, `disk:DIR`, `memory:`, `redis://…`,
//! `dynamodb://TABLE`, parsed into a [`StoreUri`] and opened as a boxed store.
//!
//! | URI | store | feature |
//! |---|---|---|
//! | `memory:` | in memory, gone when the process ends | `memory` |
//! | `sqlite:PATH`, `sqlite:///ABS/PATH` | a SQLite file; `PATH` is a file path, never an SQLite URI | `sqlite` |
//! | `disk:DIR`, `disk:///ABS/DIR` | a directory store | `disk` |
//! | `redis://[USER:PASS@]HOST[:PORT][/DB]`, `rediss://…`, `redis+unix:///SOCKET[?db=N&pass=…]` | Redis | `redis` |
//! | `dynamodb://TABLE` | a DynamoDB table; AWS settings from the environment, or the emulator at `$DYNAMODB_ENDPOINT` | `dynamodb` |
//!
//! A leading `~/` in a path is the home directory (shells do not expand it inside
//! `sqlite:~/x`); no other `~` form is expanded, and one is refused rather than taken
//! as a directory named `~user`.
//!
//! A `sqlite:` path is handed to SQLite as a file name, never as a URI, so a path that
//! looks like one is refused instead of opening something other than the user meant:
//! `sqlite:file:…` and any `?` (SQLite URI parameters such as `?mode=memory` would
//! otherwise be part of a file name), `sqlite::memory:` (use `memory:`), and
//! `sqlite://HOST/…` (a local store has no host). A `sqlite:` path must name a file: it
//! cannot end with `/`, `.` or `..`. The same holds for `disk:`, except that a directory
//! may end with `/` (`disk:/var/lib/app/` is `disk:/var/lib/app`). Control characters
//! are refused in both. Every form parses whatever features are enabled; opening a store whose
//! feature is off is an [`ErrorKind::Unsupported`] error naming the feature.
//!
//! ```
//! use key_value::{ErrorKind, StoreUri};
//!
//! let uri: StoreUri = "sqlite:/var/lib/app/tokens.sqlite".parse()?;
//! assert_eq!(uri.to_string(), "sqlite:/var/lib/app/tokens.sqlite");
//! assert!(uri.is_persistent());
//!
//! // The password of a Redis URL never reaches a message.
//! let redis: StoreUri = "redis://app:hunter2@cache:6379/0".parse()?;
//! assert_eq!(redis.to_string(), "redis://app:***@cache:6379/0");
//!
//! // Errors name the part that is wrong.
//! let err = "dynamodb://x".parse::<StoreUri>().unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::InvalidArgument);
//! assert!(err.to_string().contains("`x` is not a DynamoDB table name"));
//! # Ok::<(), key_value::Error>(())
//! ```
//!
//! Opening, with [`open`] or [`StoreUri::open`]:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value::Result<()> {
//! use key_value::AsyncKeyValueExt;
//!
//! let store = key_value::open("memory:").await?;
//! store.put_as("k", &serde_json::json!({"n": 1}), None, None).await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{AsyncKeyValue, Error, ErrorKind, Result};

/// A store named by a URI (see the [module docs](self) for every form). Its `Display` and
/// `Debug` hide a Redis password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUri {
    /// `memory:`.
    Memory,
    /// `sqlite:PATH`: the database file.
    Sqlite(PathBuf),
    /// `disk:DIR`: the store's directory.
    Disk(PathBuf),
    /// `redis://…`, `rediss://…`, `redis+unix://…`: the whole URL, as the Redis client
    /// reads it.
    Redis(String),
    /// `dynamodb://TABLE`: the table name.
    DynamoDb(String),
}

/// What every form looks like, for error messages.
pub const URI_FORMS: &str =
    "sqlite:PATH, disk:DIR, memory:, redis://HOST[:PORT][/DB] or dynamodb://TABLE";

/// Parses `uri` and opens the store it names, creating a file store (and its missing
/// parent directories, owner-only) when it does not exist yet.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] when the URI does not parse, naming the wrong part;
/// [`ErrorKind::Unsupported`] when the store's Cargo feature is off; otherwise the
/// store's own error from opening or connecting (a [`Setup`](ErrorKind::Setup) or a
/// retryable [`Connection`](ErrorKind::Connection) error).
pub async fn open(uri: &str) -> Result<Box<dyn AsyncKeyValue>> {
    uri.parse::<StoreUri>()?.open().await
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// `~/x` → `$HOME/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if !home.is_empty() => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The two stores named by a local path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Local {
    Sqlite,
    Disk,
}

impl Local {
    fn scheme(self) -> &'static str {
        match self {
            Local::Sqlite => "sqlite",
            Local::Disk => "disk",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Local::Sqlite => "file",
            Local::Disk => "directory",
        }
    }

    fn form(self) -> &'static str {
        match self {
            Local::Sqlite => "sqlite:PATH or sqlite:///ABS/PATH",
            Local::Disk => "disk:DIR or disk:///ABS/DIR",
        }
    }
}

/// The path of a `sqlite:` or `disk:` URI, refusing what would not be read as the user
/// means it (see the [module docs](self)).
fn local_path(rest: &str, local: Local) -> Result<PathBuf> {
    let (scheme, what, form) = (local.scheme(), local.what(), local.form());
    let shown = rest.escape_debug();
    // `sqlite:///abs` is the URL spelling of `sqlite:/abs`; `sqlite://host/…` names a
    // host, which a local store cannot have.
    let rest = match rest.strip_prefix("//") {
        Some(abs) if abs.starts_with('/') => abs,
        Some(_) => {
            return Err(invalid(format!(
                "`{scheme}:{shown}` names a host, and a {scheme} store is a local {what}: \
                 write {form}"
            )));
        }
        None => rest,
    };
    if rest.is_empty() {
        return Err(invalid(format!(
            "`{scheme}:` names no {what}: write {form}"
        )));
    }
    if rest.contains('\0') {
        return Err(invalid(format!(
            "the {what} of `{scheme}:` holds a NUL byte"
        )));
    }
    if rest.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the {what} `{shown}` of `{scheme}:` holds a control character"
        )));
    }
    if rest.starts_with("file:") || rest.contains('?') {
        return Err(invalid(format!(
            "`{scheme}:{shown}` reads like an SQLite URI (`file:`, `?` parameters), and a \
             {scheme} store takes a plain {what} path, never a URI: write {form}{}",
            if local == Local::Sqlite {
                " (for a store that is gone at exit, use memory:)"
            } else {
                ""
            }
        )));
    }
    if local == Local::Sqlite && rest.starts_with(":memory:") {
        return Err(invalid(format!(
            "`sqlite:{shown}` would be SQLite's in-memory database; for a store that is \
             gone at exit use memory:, for a file write {form}"
        )));
    }
    if rest.starts_with('~') && !rest.starts_with("~/") {
        return Err(invalid(format!(
            "`{scheme}:{shown}`: only a leading `~/` (your home directory) is expanded; \
             write {form}"
        )));
    }
    if local == Local::Sqlite && (rest.ends_with('/') || rest.ends_with(std::path::MAIN_SEPARATOR))
    {
        return Err(invalid(format!(
            "`sqlite:{shown}` ends with a separator, so it names a directory, not a file: \
             write {form}"
        )));
    }
    // A directory may be written with a trailing separator; the store is the directory.
    let trimmed = rest.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
    let path = expand_home(if trimmed.is_empty() { rest } else { trimmed });
    if !matches!(
        path.components().next_back(),
        Some(std::path::Component::Normal(_))
    ) || path == Path::new("~")
    {
        return Err(invalid(format!(
            "`{scheme}:{shown}` names no {what} of its own (it ends in `.`, `..` or is \
             the root), so nothing can sit beside it: write {form}"
        )));
    }
    Ok(path)
}

impl FromStr for StoreUri {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        if let Some(rest) = uri.strip_prefix("sqlite:") {
            return local_path(rest, Local::Sqlite).map(StoreUri::Sqlite);
        }
        if let Some(rest) = uri.strip_prefix("disk:") {
            return local_path(rest, Local::Disk).map(StoreUri::Disk);
        }
        if uri == "memory:" || uri == "memory" {
            return Ok(StoreUri::Memory);
        }
        if ["redis://", "rediss://", "redis+unix://"]
            .iter()
            .any(|p| uri.starts_with(p))
        {
            return parse_redis(uri).map(StoreUri::Redis);
        }
        if let Some(table) = uri.strip_prefix("dynamodb://") {
            let table = table.trim_end_matches('/');
            let valid = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid {
                return Err(invalid(format!(
                    "`{}` is not a DynamoDB table name (3 to 255 letters, digits, `_`, `-`, `.`)",
                    table.escape_debug()
                )));
            }
            return Ok(StoreUri::DynamoDb(table.to_string()));
        }
        let scheme = uri.split_once(':').map_or(uri, |(s, _)| s);
        Err(invalid(if uri.contains(':') {
            format!(
                "unknown store kind `{}`: use {URI_FORMS}",
                scheme.escape_debug()
            )
        } else {
            format!(
                "`{}` names no store kind: use {URI_FORMS}",
                uri.escape_debug()
            )
        }))
    }
}

/// Checks a Redis URL as the client will read it: a host (or a socket path), and a
/// database number when a path is given. The URL is never repeated in an error, since it
/// may hold a password.
fn parse_redis(uri: &str) -> Result<String> {
    let url =
        url::Url::parse(uri).map_err(|e| invalid(format!("the Redis URL does not parse: {e}")))?;
    if url.scheme() == "redis+unix" {
        if url.path().is_empty() || url.path() == "/" {
            return Err(invalid(
                "the Redis URL names no socket: write redis+unix:///PATH/TO/SOCKET".into(),
            ));
        }
    } else {
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the Redis URL names no host".into()));
        }
        let db = url.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(invalid(format!(
                "the Redis URL's path `/{}` is not a database number (write /0, /1, …)",
                db.escape_debug()
            )));
        }
    }
    Ok(uri.to_string())
}

impl fmt::Display for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUri::Memory => f.write_str("memory:"),
            StoreUri::Sqlite(p) => write!(f, "sqlite:{}", shown_path(p)),
            StoreUri::Disk(p) => write!(f, "disk:{}", shown_path(p)),
            StoreUri::Redis(url) => f.write_str(&redacted_url(url)),
            StoreUri::DynamoDb(table) => write!(f, "dynamodb://{table}"),
        }
    }
}

/// A path as a `sqlite:` or `disk:` URI writes it: one that begins with `//` gets the
/// `//` prefix that parsing strips, so that it is not read as a host.
fn shown_path(path: &Path) -> String {
    let shown = path.display().to_string();
    if shown.starts_with("//") {
        format!("//{shown}")
    } else {
        shown
    }
}

impl fmt::Debug for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUri({self})")
    }
}

/// A URL without its password (`user:PASSWORD@`, or a `pass` / `password` query
/// parameter as `redis+unix://` URLs carry it).
fn redacted_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "(a URL that does not parse)".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let secret = |name: &str| matches!(name, "pass" | "password");
    if u.query_pairs().any(|(name, _)| secret(&name)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret(&name) {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

impl StoreUri {
    /// Whether the store keeps its data after the process exits (all but `memory:`).
    pub fn is_persistent(&self) -> bool {
        !matches!(self, StoreUri::Memory)
    }

    /// The file or directory of a `sqlite:` or `disk:` store.
    pub fn path(&self) -> Option<&Path> {
        match self {
            StoreUri::Sqlite(p) | StoreUri::Disk(p) => Some(p),
            _ => None,
        }
    }

    /// Opens the store, creating a file store (and its missing parent directories,
    /// owner-only) when it does not exist yet. Errors as [`open`].
    pub async fn open(&self) -> Result<Box<dyn AsyncKeyValue>> {
        if let Some(parent) = self
            .path()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
        {
            create_private_dir(parent.to_path_buf()).await?;
        }
        self.open_store().await
    }

    /// Opens the store only if it exists: a missing `sqlite:` file or `disk:` directory
    /// is an [`ErrorKind::Setup`] error and nothing is created (for commands that only
    /// read). Server stores open as with [`open`](Self::open).
    pub async fn open_existing(&self) -> Result<Box<dyn AsyncKeyValue>> {
        if !self.exists().await? {
            return Err(Error::new(
                ErrorKind::Setup,
                format!("there is no store at {self}"),
            ));
        }
        self.open_store().await
    }

    /// Whether the file or directory of a `sqlite:` or `disk:` store is there (a link
    /// counts, wherever it points); always `true` for the other stores, which are made
    /// or reached when opened.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Setup`] when the path cannot be looked at (a parent directory that
    /// cannot be read, say).
    pub async fn exists(&self) -> Result<bool> {
        let Some(path) = self.path() else {
            return Ok(true);
        };
        match tokio::fs::symlink_metadata(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::new(
                ErrorKind::Setup,
                format!("cannot look at {}: {e}", path.display()),
            )),
        }
    }

    async fn open_store(&self) -> Result<Box<dyn AsyncKeyValue>> {
        match self {
            StoreUri::Memory => open_memory(),
            StoreUri::Sqlite(path) => open_sqlite(path).await,
            StoreUri::Disk(dir) => open_disk(dir).await,
            StoreUri::Redis(url) => open_redis(url).await,
            StoreUri::DynamoDb(table) => open_dynamodb(table).await,
        }
    }
}

/// Creates `dir` and its missing parents, readable by the owner only.
async fn create_private_dir(dir: PathBuf) -> Result<()> {
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Setup,
            format!("creating {shown} was cancelled: {e}"),
        )
    })?
    .map_err(|e| Error::new(ErrorKind::Setup, format!("cannot create {shown}: {e}")))
}

// Unused when every store feature is on.
#[allow(dead_code)]
fn not_built(store: &str, feature: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("this build has no {store} store: enable the `{feature}` feature of key-value"),
    )
}

#[cfg(feature = "memory")]
fn open_memory() -> Result<Box<dyn AsyncKeyValue>> {
    Ok(Box::new(crate::memory::MemoryStore::new()))
}

#[cfg(not(feature = "memory"))]
fn open_memory() -> Result<Box<dyn AsyncKeyValue>> {
    Err(not_built("memory", "memory"))
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &Path) -> Result<Box<dyn AsyncKeyValue>> {
    Ok(Box::new(crate::sqlite::SqliteStore::open(path).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_path: &Path) -> Result<Box<dyn AsyncKeyValue>> {
    Err(not_built("SQLite", "sqlite"))
}

#[cfg(feature = "disk")]
async fn open_disk(dir: &Path) -> Result<Box<dyn AsyncKeyValue>> {
    Ok(Box::new(crate::disk::DiskStore::open(dir).await?))
}

#[cfg(not(feature = "disk"))]
async fn open_disk(_dir: &Path) -> Result<Box<dyn AsyncKeyValue>> {
    Err(not_built("disk", "disk"))
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str) -> Result<Box<dyn AsyncKeyValue>> {
    Ok(Box::new(crate::redis::RedisStore::connect(url).await?))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_url: &str) -> Result<Box<dyn AsyncKeyValue>> {
    Err(not_built("Redis", "redis"))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(table: &str) -> Result<Box<dyn AsyncKeyValue>> {
    use crate::dynamodb::{DynamoDbStore, config_from_env, emulator_config};
    let config = match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => emulator_config(&endpoint).await,
        _ => config_from_env().await,
    };
    Ok(Box::new(
        DynamoDbStore::builder(table)
            .sdk_config(&config)
            .build()
            .await?,
    ))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(_table: &str) -> Result<Box<dyn AsyncKeyValue>> {
    Err(not_built("DynamoDB", "dynamodb"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(s: &str) -> Result<StoreUri> {
        s.parse()
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(
            parse("sqlite:a/b.db").unwrap(),
            StoreUri::Sqlite("a/b.db".into())
        );
        assert_eq!(
            parse("sqlite:///abs.db").unwrap(),
            StoreUri::Sqlite("/abs.db".into())
        );
        assert_eq!(
            parse("disk:/tmp/d").unwrap(),
            StoreUri::Disk("/tmp/d".into())
        );
        assert_eq!(parse("memory:").unwrap(), StoreUri::Memory);
        assert_eq!(
            parse("redis://127.0.0.1:6379/0").unwrap(),
            StoreUri::Redis("redis://127.0.0.1:6379/0".into())
        );
        assert_eq!(
            parse("redis+unix:///run/redis.sock?db=1").unwrap(),
            StoreUri::Redis("redis+unix:///run/redis.sock?db=1".into())
        );
        assert_eq!(
            parse("dynamodb://tokens").unwrap(),
            StoreUri::DynamoDb("tokens".into())
        );
    }

    #[test]
    fn errors_name_the_wrong_part_on_one_line() {
        for (bad, part) in [
            ("", "names no store kind"),
            ("tokens.db", "`tokens.db` names no store kind"),
            ("sqlite:", "names no file"),
            ("disk:", "names no directory"),
            ("postgres://x", "unknown store kind `postgres`"),
            ("dynamodb://a", "`a` is not a DynamoDB table name"),
            ("dynamodb://a b c", "`a b c` is not a DynamoDB table name"),
            (
                "redis://127.0.0.1:6379/abc",
                "`/abc` is not a database number",
            ),
            ("redis://:6379", "does not parse"),
            ("redis+unix://", "names no socket"),
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
            let text = err.to_string();
            assert!(text.contains(part), "{bad}: {text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn local_paths_that_look_like_uris_are_refused() {
        for (bad, part) in [
            (
                "sqlite:file:/tmp/t.db?mode=memory",
                "reads like an SQLite URI",
            ),
            ("sqlite:file:t.db", "reads like an SQLite URI"),
            ("sqlite:file::memory:", "reads like an SQLite URI"),
            ("sqlite:/tmp/t.db?mode=ro", "never a URI"),
            ("sqlite:///tmp/t.db?cache=shared", "never a URI"),
            ("sqlite::memory:", "use memory:"),
            ("sqlite::memory:x", "in-memory database"),
            ("sqlite://host/t.db", "names a host"),
            ("sqlite://t.db", "names a host"),
            ("sqlite://", "names a host"),
            ("sqlite:dir/", "names a directory, not a file"),
            ("sqlite:/", "names a directory, not a file"),
            ("sqlite:.", "names no file of its own"),
            ("sqlite:a/..", "names no file of its own"),
            ("sqlite:~", "only a leading `~/`"),
            ("sqlite:~bob/t.db", "only a leading `~/`"),
            ("sqlite:t\n.db", "control character"),
            ("sqlite:t\0.db", "NUL byte"),
            ("disk:file:/tmp/d", "reads like an SQLite URI"),
            ("disk:/tmp/d?x=1", "never a URI"),
            ("disk://host/d", "names a host"),
            ("disk:.", "names no directory of its own"),
            ("disk:..", "names no directory of its own"),
            ("disk:/", "names no directory of its own"),
            ("disk:///", "names no directory of its own"),
            ("disk:~/", "names no directory of its own"),
            ("disk:~root", "only a leading `~/`"),
            ("disk:d\re", "control character"),
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
            let text = err.to_string();
            assert!(text.contains(part), "{bad}: {text}");
            assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
        }
        // What is not refused stays as written, and shows as written.
        for (good, path) in [
            ("sqlite:tokens.db", "tokens.db"),
            ("sqlite:./file-store.db", "./file-store.db"),
            ("sqlite:/tmp/a#b.db", "/tmp/a#b.db"),
            ("sqlite:////tmp/t.db", "//tmp/t.db"),
        ] {
            let uri = parse(good).unwrap();
            assert_eq!(uri, StoreUri::Sqlite(path.into()), "{good}");
            assert_eq!(parse(&uri.to_string()).unwrap(), uri);
        }
        assert_eq!(
            parse("disk:/var/lib/app/").unwrap(),
            StoreUri::Disk("/var/lib/app".into())
        );
        assert_eq!(
            parse("disk:///var/lib/app//").unwrap(),
            StoreUri::Disk("/var/lib/app".into())
        );
    }

    /// A URI-looking `sqlite:` path refused at parse creates nothing, and opening a
    /// `file:` name built directly is a plain file, not SQLite's URI.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_file_name_is_never_read_as_a_sqlite_uri() {
        let dir = std::env::temp_dir().join(format!("kv-uri-file-{}", std::process::id()));
        let spec = format!("sqlite:file:{}/t.db?mode=memory", dir.display());
        assert!(open(&spec).await.is_err());
        assert!(!dir.exists());
        assert!(!Path::new("file:").exists());
        let path = dir.join("file:t.db?mode=memory");
        let uri = StoreUri::Sqlite(path.clone());
        let store = uri.open().await.unwrap();
        store
            .put("k", crate::JsonObject::new(), None, None)
            .await
            .unwrap();
        drop(store);
        assert!(path.is_file());
        let store = uri.open_existing().await.unwrap();
        assert_eq!(
            store.get("k", None).await.unwrap(),
            Some(crate::JsonObject::new())
        );
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_are_not_shown() {
        for text in [
            "redis://user:hunter2@localhost:6379",
            "redis+unix:///run/redis.sock?db=1&pass=hunter2",
        ] {
            let uri = parse(text).unwrap();
            for shown in [uri.to_string(), format!("{uri:?}")] {
                assert!(
                    !shown.contains("hunter2") && shown.contains("***"),
                    "{shown}"
                );
            }
        }
        for bad in ["redis://user:hunter2@[::1", "redis://user:hunter2@h/x"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[tokio::test]
    async fn open_existing_creates_nothing() {
        let dir = std::env::temp_dir().join(format!("kv-uri-{}", std::process::id()));
        let path = dir.join("missing/tokens.sqlite");
        let uri = StoreUri::Sqlite(path.clone());
        assert!(!uri.exists().await.unwrap());
        assert!(StoreUri::Memory.exists().await.unwrap());
        let err = uri.open_existing().await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Setup);
        assert!(err.to_string().contains("there is no store at"), "{err}");
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn memory_opens() {
        let store = open("memory:").await.unwrap();
        assert!(store.get("k", None).await.unwrap().is_none());
    }
}
