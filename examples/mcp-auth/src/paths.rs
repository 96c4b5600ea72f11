//! Where `mcp-auth` keeps things by default: its folder in the platform's data directory
//! (found by the `dirs` crate: `$XDG_DATA_HOME` or `~/.local/share` on Linux,
//! `~/Library/Application Support` on macOS, `%APPDATA%` on Windows), and the key file
//! of each store.

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
/// (`PATH.key`), in the data folder for a server store, none for memory.
pub fn key_file(store: &StoreUri) -> Result<Option<PathBuf>, String> {
    if let Some(path) = store.path() {
        let mut name = path.as_os_str().to_owned();
        name.push(".key");
        return Ok(Some(PathBuf::from(name)));
    }
    if store.is_persistent() {
        return Ok(Some(app_dir()?.join("server-store.key")));
    }
    Ok(None)
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
    use super::*;

    #[test]
    fn key_files_sit_next_to_file_stores() {
        let spec = StoreUri::Sqlite("/x/tokens.sqlite".into());
        assert_eq!(key_file(&spec), Ok(Some("/x/tokens.sqlite.key".into())));
        assert_eq!(key_file(&StoreUri::Memory), Ok(None));
    }
}
