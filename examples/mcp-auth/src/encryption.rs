//! Encryption at rest for a token store: the Fernet key (from `MCP_AUTH_KEY` or a key
//! file with owner-only permissions, created on first use) and the wrapper.
//!
//! ```
//! use std::sync::Arc;
//! use mcp_auth::encryption::{encrypt, new_key};
//! use key_value::AsyncKeyValue;
//! use key_value::memory::MemoryStore;
//!
//! let key = new_key()?;
//! let store = encrypt(Arc::new(MemoryStore::new()), &key)?;
//! # let _: Arc<dyn AsyncKeyValue> = store;
//! # Ok::<(), String>(())
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use key_value::AsyncKeyValue;
use key_value::fernet::zeroize::Zeroizing;
use key_value::fernet::{FernetKey, FernetWrapper};

/// The environment variable that holds the key (it wins over the key file).
pub const KEY_ENV: &str = "MCP_AUTH_KEY";

/// Where the key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The `MCP_AUTH_KEY` environment variable.
    Environment,
    /// A key file that already existed.
    File(PathBuf),
    /// A key file created just now.
    NewFile(PathBuf),
    /// A key made for this run only (for a memory store).
    Ephemeral,
    /// No key file yet (a command that creates nothing): a key for this run only, which
    /// can read nothing that is stored.
    Missing(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Environment => write!(f, "key from ${KEY_ENV}"),
            KeySource::File(p) => write!(f, "key in {}", p.display()),
            KeySource::NewFile(p) => write!(f, "new key created in {} (owner-only)", p.display()),
            KeySource::Ephemeral => f.write_str("a key for this run only"),
            KeySource::Missing(p) => write!(f, "no key file at {} yet", p.display()),
        }
    }
}

/// A Fernet key in its text form, zeroed when dropped.
pub type KeyText = Zeroizing<String>;

/// A new random key.
pub fn new_key() -> Result<KeyText, String> {
    FernetKey::generate()
        .map(|key| key.to_base64())
        .map_err(|e| format!("cannot make an encryption key: {e}"))
}

/// The one place the store is wrapped: every value is sealed with Fernet before it
/// reaches `store` (py-key-value's envelope, so Python can read it with the same key).
pub fn encrypt(store: Arc<dyn AsyncKeyValue>, key: &str) -> Result<Arc<dyn AsyncKeyValue>, String> {
    let key =
        FernetKey::from_base64(key).map_err(|e| format!("the encryption key is unusable: {e}"))?;
    Ok(Arc::new(FernetWrapper::new(store, key)))
}

/// The key: `MCP_AUTH_KEY` if set, else the key file (created, owner-only, when missing
/// and `create` is set), else (no key file: a memory store) a key for this run only.
pub fn load_key(key_file: Option<&Path>, create: bool) -> Result<(KeyText, KeySource), String> {
    if let Ok(raw) = std::env::var(KEY_ENV) {
        let raw = Zeroizing::new(raw);
        let text = Zeroizing::new(raw.trim().to_string());
        FernetKey::from_base64(&text).map_err(|_| {
            format!(
                "${KEY_ENV} is not a Fernet key (32 bytes in URL-safe base64, 44 characters); \
                 unset it to use a key file"
            )
        })?;
        return Ok((text, KeySource::Environment));
    }
    let Some(path) = key_file else {
        return Ok((new_key()?, KeySource::Ephemeral));
    };
    match read_key_file(path)? {
        Some(text) => Ok((text, KeySource::File(path.to_path_buf()))),
        None if !create => Ok((new_key()?, KeySource::Missing(path.to_path_buf()))),
        None => {
            let text = create_key_file(path)?;
            Ok((text, KeySource::NewFile(path.to_path_buf())))
        }
    }
}

/// The key in an existing key file; `None` when there is no file.
fn read_key_file(path: &Path) -> Result<Option<KeyText>, String> {
    // Only a regular file: opening a named pipe would wait for a writer for ever.
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(format!(
                "the key file {} is not a regular file; give the path of a file that holds the key",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the key file {}: {e}", path.display())),
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the key file {}: {e}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the key file {} can be read by other users; run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
    let text = Zeroizing::new(text.trim().to_string());
    FernetKey::from_base64(&text).map_err(|_| {
        format!(
            "the key file {} does not hold a Fernet key; restore it, or move it away to start \
             over with a new key (stored tokens are then lost)",
            path.display()
        )
    })?;
    Ok(Some(text))
}

/// Writes a new key to a new file that only its owner can read.
fn create_key_file(path: &Path) -> Result<KeyText, String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::paths::create_private_dir(parent)?;
    }
    let text = new_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(f) => f,
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_key_file(path)?.ok_or_else(|| {
                format!("the key file {} vanished while being read", path.display())
            });
        }
        Err(e) => {
            return Err(format!(
                "cannot create the key file {}: {e}",
                path.display()
            ));
        }
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))?;
    Ok(text)
}
