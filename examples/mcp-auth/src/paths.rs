//! Where `mcp-auth` keeps things by default: its folder in the platform's data directory
//! (found by the `dirs` crate: `$XDG_DATA_HOME` or `~/.local/share` on Linux,
//! `~/Library/Application Support` on macOS, `%APPDATA%` on Windows), the key file
//! of each store, and FastMCP's home (for `--store fastmcp`).

use std::path::{Path, PathBuf};

use key_value::StoreUri;

/// The name of this program's folder in the user's data directory.
pub const APP_DIR: &str = "mcp-auth";

/// This program's folder in the user's data directory (`…/mcp-auth`).
pub fn app_dir() -> Result<PathBuf, String> {
    dirs::data_dir()
        .map(|d| d.join(APP_DIR))
        .ok_or_else(|| "cannot find your data directory (is HOME set?); pass --store".to_string())
}

/// The default store: `tokens.sqlite` in this program's data folder.
pub fn default_store() -> Result<StoreUri, String> {
    Ok(StoreUri::Sqlite(app_dir()?.join("tokens.sqlite")))
}

/// Where a store's encryption key file goes: next to a file or directory store
/// (`PATH.key` in the same directory, so it needs no directory the store does not), in
/// the data folder for a server store, none for memory.
///
/// A store path with no name of its own (`.`, `..`, `/`) has no place beside it: that is
/// an error asking for `--key-file` (`StoreUri` refuses such paths when it parses them;
/// this guards one built in code). A trailing `/` is ignored: `disk:/d/` keys in
/// `/d.key`, never inside the store's directory.
pub fn key_file(store: &StoreUri) -> Result<Option<PathBuf>, String> {
    if let Some(path) = store.path() {
        let name = match path.components().next_back() {
            Some(std::path::Component::Normal(name)) => name,
            _ => {
                return Err(format!(
                    "the store {store} names no file or directory of its own, so its key \
                     file has no place beside it; pass --key-file"
                ));
            }
        };
        let mut key = name.to_owned();
        key.push(".key");
        return Ok(Some(path.with_file_name(key)));
    }
    if store.is_persistent() {
        return Ok(Some(app_dir()?.join("server-store.key")));
    }
    Ok(None)
}

/// The environment variable that moves FastMCP's home (FastMCP's `settings.home`).
pub const FASTMCP_HOME_ENV: &str = "FASTMCP_HOME";

/// FastMCP's home folder, where its command-line client keeps its token cache
/// (`<home>/cli-oauth/…`): `$FASTMCP_HOME` as given (a relative path is relative to the
/// current directory, as in FastMCP), else the folder `fastmcp` in the platform's local
/// data directory, the one FastMCP 4 finds with platformdirs'
/// `user_data_dir("fastmcp", appauthor=False)`: `$XDG_DATA_HOME/fastmcp` or
/// `~/.local/share/fastmcp` on Linux, `~/Library/Application Support/fastmcp` on macOS,
/// `%LOCALAPPDATA%\fastmcp` on Windows.
///
/// Where the two differ: a relative `$XDG_DATA_HOME`, which platformdirs takes as it is
/// and the `dirs` crate ignores (set `$FASTMCP_HOME` then), and an empty
/// `$FASTMCP_HOME`, which FastMCP reads as the current directory and this refuses.
pub fn fastmcp_home() -> Result<PathBuf, String> {
    match std::env::var_os(FASTMCP_HOME_ENV) {
        Some(home) if home.is_empty() => Err(format!(
            "${FASTMCP_HOME_ENV} is set but empty; unset it or give FastMCP's home folder"
        )),
        Some(home) => Ok(PathBuf::from(home)),
        None => dirs::data_local_dir()
            .map(|d| d.join("fastmcp"))
            .ok_or_else(|| {
                format!("cannot find your data directory (is HOME set?); set ${FASTMCP_HOME_ENV}")
            }),
    }
}

/// The directory of FastMCP's command-line token cache for the key whose fingerprint is
/// `fingerprint` (the first 12 hex digits of the SHA-256 of the key's text):
/// `<FastMCP home>/cli-oauth/<fingerprint>`.
pub fn fastmcp_cache_dir(fingerprint: &str) -> Result<PathBuf, String> {
    Ok(fastmcp_home()?.join("cli-oauth").join(fingerprint))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_files_sit_next_to_file_stores() {
        let spec = StoreUri::Sqlite("/x/tokens.sqlite".into());
        assert_eq!(key_file(&spec), Ok(Some("/x/tokens.sqlite.key".into())));
        assert_eq!(key_file(&StoreUri::Memory), Ok(None));
        let spec = StoreUri::Sqlite("tokens.sqlite".into());
        assert_eq!(key_file(&spec), Ok(Some("tokens.sqlite.key".into())));
        let spec = StoreUri::Disk("/x/store/".into());
        assert_eq!(key_file(&spec), Ok(Some("/x/store.key".into())));
        // A path SQLite would read as a URI is a plain name: the key sits beside it.
        let spec = StoreUri::Sqlite("/x/file:t.db?mode=memory".into());
        assert_eq!(
            key_file(&spec),
            Ok(Some("/x/file:t.db?mode=memory.key".into()))
        );
        for odd in [".", "..", "/", "a/.."] {
            let err = key_file(&StoreUri::Disk(odd.into())).unwrap_err();
            assert!(err.contains("pass --key-file"), "{odd}: {err}");
        }
    }
}
