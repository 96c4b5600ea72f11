//! `--store` specs: a URL-like text naming a store of the family, parsed and opened.
//!
//! | spec | store |
//! |---|---|
//! | `sqlite:PATH` | a SQLite file (created with its directory) |
//! | `disk:DIR` | a directory store |
//! | `memory:` | in memory, gone on exit |
//! | `redis://HOST[:PORT][/DB]`, `rediss://…` | Redis (feature `redis`) |
//! | `dynamodb://TABLE` | DynamoDB (feature `dynamodb`; `DYNAMODB_ENDPOINT` for an emulator) |
//!
//! ```
//! use examples::store_spec::StoreSpec;
//!
//! let spec: StoreSpec = "sqlite:/tmp/tokens.sqlite".parse()?;
//! assert_eq!(spec.to_string(), "sqlite:/tmp/tokens.sqlite");
//! assert!("mongodb://x".parse::<StoreSpec>().is_err());
//! # Ok::<(), String>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use key_value::AsyncKeyValue;

/// The name of this program's folder in the user's data directory.
pub const APP_DIR: &str = "mcp-auth";

/// Where the tokens live, as named by a `--store` spec. Its `Debug` and `Display` hide
/// a Redis URL's password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `disk:DIR`.
    Disk(PathBuf),
    /// `memory:`.
    Memory,
    /// `redis://…`, `rediss://…`, `redis+unix://…`: the URL.
    Redis(String),
    /// `dynamodb://TABLE`: the table.
    DynamoDb(String),
}

/// The user's data directory: `$XDG_DATA_HOME` or `~/.local/share` on Linux and other
/// Unixes, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
pub fn data_dir() -> Option<PathBuf> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(windows) {
        return std::env::var_os("APPDATA").map(PathBuf::from);
    }
    if cfg!(target_os = "macos") {
        return home().map(|h| h.join("Library/Application Support"));
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(".local/share")))
}

/// This program's folder in the user's data directory (`…/mcp-auth`).
pub fn app_dir() -> Result<PathBuf, String> {
    data_dir().map(|d| d.join(APP_DIR)).ok_or_else(|| {
        "cannot find your data directory (HOME is not set); pass --store sqlite:PATH".to_string()
    })
}

/// `~/x` → `$HOME/x`, since the shell does not expand `~` inside `--store sqlite:~/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

const EXPECTED: &str =
    "use sqlite:PATH, disk:DIR, memory:, redis://HOST[:PORT][/DB] or dynamodb://TABLE";

impl FromStr for StoreSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let path = |rest: &str, kind: &str| {
            let rest = rest
                .strip_prefix("//")
                .filter(|r| r.starts_with('/'))
                .unwrap_or(rest);
            if rest.is_empty() {
                Err(format!("the store `{spec}` names no {kind}: {EXPECTED}"))
            } else {
                Ok(expand_home(rest))
            }
        };
        if let Some(rest) = spec.strip_prefix("sqlite:") {
            return path(rest, "file").map(StoreSpec::Sqlite);
        }
        if let Some(rest) = spec.strip_prefix("disk:") {
            return path(rest, "directory").map(StoreSpec::Disk);
        }
        if spec == "memory:" || spec == "memory" {
            return Ok(StoreSpec::Memory);
        }
        if ["redis://", "rediss://", "redis+unix://"]
            .iter()
            .any(|p| spec.starts_with(p))
        {
            if url::Url::parse(spec).is_err() {
                // Not repeated: an unparsable URL may still hold a password.
                return Err(format!(
                    "the Redis URL given to --store is not a valid URL: {EXPECTED}"
                ));
            }
            return Ok(StoreSpec::Redis(spec.to_string()));
        }
        if let Some(table) = spec.strip_prefix("dynamodb://") {
            let table = table.trim_end_matches('/');
            let valid = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid {
                return Err(format!(
                    "`{table}` is not a DynamoDB table name (3 to 255 letters, digits, `_`, `-`, `.`)"
                ));
            }
            return Ok(StoreSpec::DynamoDb(table.to_string()));
        }
        Err(format!("unknown store `{spec}`: {EXPECTED}"))
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreSpec::Disk(p) => write!(f, "disk:{}", p.display()),
            StoreSpec::Memory => f.write_str("memory:"),
            StoreSpec::Redis(url) => f.write_str(&redacted_url(url)),
            StoreSpec::DynamoDb(table) => write!(f, "dynamodb://{table}"),
        }
    }
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreSpec({self})")
    }
}

/// A URL without its password (`user:PASSWORD@` or a `pass` / `password` query
/// parameter, as `redis+unix://` URLs carry it), for messages.
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

impl StoreSpec {
    /// The default: `tokens.sqlite` in this program's data folder.
    pub fn default_location() -> Result<StoreSpec, String> {
        Ok(StoreSpec::Sqlite(app_dir()?.join("tokens.sqlite")))
    }

    /// Whether the store keeps its data after the program exits.
    pub fn is_persistent(&self) -> bool {
        !matches!(self, StoreSpec::Memory)
    }

    /// Where this store's encryption key file goes: next to a file or directory store
    /// (`PATH.key`), in the data folder for a server store, none for memory.
    pub fn key_file(&self) -> Result<Option<PathBuf>, String> {
        let beside = |p: &Path| {
            let mut name = p.as_os_str().to_owned();
            name.push(".key");
            PathBuf::from(name)
        };
        Ok(match self {
            StoreSpec::Sqlite(p) | StoreSpec::Disk(p) => Some(beside(p)),
            StoreSpec::Memory => None,
            StoreSpec::Redis(_) | StoreSpec::DynamoDb(_) => {
                Some(app_dir()?.join("server-store.key"))
            }
        })
    }

    /// Opens the store (creating a file store's directory, owner-only). The error is
    /// one sentence saying what to do.
    pub async fn open(&self) -> Result<Arc<dyn AsyncKeyValue>, String> {
        match self {
            StoreSpec::Memory => Ok(Arc::new(key_value::memory::MemoryStore::new())),
            StoreSpec::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    create_private_dir(parent)?;
                }
                key_value::sqlite::SqliteStore::open(path)
                    .await
                    .map(|s| Arc::new(s) as Arc<dyn AsyncKeyValue>)
                    .map_err(|e| format!("cannot open the SQLite store {}: {e}", path.display()))
            }
            StoreSpec::Disk(dir) => {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    create_private_dir(parent)?;
                }
                key_value::disk::DiskStore::open(dir)
                    .await
                    .map(|s| Arc::new(s) as Arc<dyn AsyncKeyValue>)
                    .map_err(|e| format!("cannot open the disk store {}: {e}", dir.display()))
            }
            StoreSpec::Redis(url) => open_redis(url).await,
            StoreSpec::DynamoDb(table) => open_dynamodb(table).await,
        }
    }
}

/// Creates a directory (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str) -> Result<Arc<dyn AsyncKeyValue>, String> {
    key_value::redis::RedisStore::connect(url)
        .await
        .map(|s| Arc::new(s) as Arc<dyn AsyncKeyValue>)
        .map_err(|e| {
            format!(
                "cannot connect to Redis at {}: {e}; check that the server runs and the URL is right",
                redacted_url(url)
            )
        })
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_url: &str) -> Result<Arc<dyn AsyncKeyValue>, String> {
    Err("this build has no Redis support (build with the `redis` feature)".into())
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(table: &str) -> Result<Arc<dyn AsyncKeyValue>, String> {
    use key_value::dynamodb::{DynamoDbStore, config_from_env, emulator_config};
    let config = match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => emulator_config(&endpoint).await,
        _ => config_from_env().await,
    };
    DynamoDbStore::builder(table)
        .sdk_config(&config)
        .build()
        .await
        .map(|s| Arc::new(s) as Arc<dyn AsyncKeyValue>)
        .map_err(|e| {
            format!(
                "cannot open the DynamoDB table {table}: {e}; check your AWS settings \
                 (or DYNAMODB_ENDPOINT for an emulator)"
            )
        })
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(_table: &str) -> Result<Arc<dyn AsyncKeyValue>, String> {
    Err("this build has no DynamoDB support (build with the `dynamodb` feature)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let parse = |s: &str| s.parse::<StoreSpec>();
        assert_eq!(
            parse("sqlite:a/b.db"),
            Ok(StoreSpec::Sqlite("a/b.db".into()))
        );
        assert_eq!(
            parse("sqlite:///abs.db"),
            Ok(StoreSpec::Sqlite("/abs.db".into()))
        );
        assert_eq!(parse("disk:/tmp/d"), Ok(StoreSpec::Disk("/tmp/d".into())));
        assert_eq!(parse("memory:"), Ok(StoreSpec::Memory));
        assert_eq!(
            parse("redis://127.0.0.1:6379/0"),
            Ok(StoreSpec::Redis("redis://127.0.0.1:6379/0".into()))
        );
        assert_eq!(
            parse("dynamodb://tokens"),
            Ok(StoreSpec::DynamoDb("tokens".into()))
        );
        for bad in [
            "",
            "sqlite:",
            "disk:",
            "postgres://x",
            "dynamodb://a",
            "dynamodb://a b c",
            "tokens.db",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        for text in [
            "redis://user:hunter2@localhost:6379",
            "redis+unix:///run/redis.sock?db=1&pass=hunter2",
        ] {
            let spec = text.parse::<StoreSpec>();
            for shown in [
                spec.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                spec.as_ref().map(|s| format!("{s:?}")).unwrap_or_default(),
            ] {
                assert!(
                    !shown.contains("hunter2") && shown.contains("***"),
                    "{shown}"
                );
            }
        }
        let bad = "redis://user:hunter2@[::1".parse::<StoreSpec>();
        assert!(bad.is_err_and(|e| !e.contains("hunter2")));
    }

    #[test]
    fn key_files_sit_next_to_file_stores() {
        let spec = StoreSpec::Sqlite("/x/tokens.sqlite".into());
        assert_eq!(spec.key_file(), Ok(Some("/x/tokens.sqlite.key".into())));
        assert_eq!(StoreSpec::Memory.key_file(), Ok(None));
    }
}
