//! The naming rules every store enforces the same way.

use crate::error::{Error, ErrorKind, Result};

/// The collection used when an operation is given `None`.
pub const DEFAULT_COLLECTION: &str = "default_collection";

/// The longest key or collection name, in UTF-8 bytes, that every store accepts.
pub const MAX_NAME_BYTES: usize = 4096;

/// Checks a key: non-empty, at most [`MAX_NAME_BYTES`] bytes, no NUL character.
///
/// Everything else (`/`, `..`, `::`, control characters, emoji, `con`) is a valid key;
/// backends that cannot store such names natively map them internally.
///
/// ```
/// use key_value_core::{validate_key, ErrorKind};
///
/// assert!(validate_key("../etc/passwd").is_ok());
/// assert_eq!(validate_key("").unwrap_err().kind(), ErrorKind::InvalidKey);
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    validate_name("key", key)
}

/// Checks a collection name with the same rules as [`validate_key`].
pub fn validate_collection(collection: &str) -> Result<()> {
    validate_name("collection name", collection)
}

/// Checks the default collection a store is being built with: a name that breaks the
/// rules is an [`ErrorKind::Setup`] error naming `store`, since it is configuration.
pub fn validate_default_collection(store: &'static str, collection: &str) -> Result<()> {
    validate_collection(collection).map_err(|e| {
        Error::new(
            ErrorKind::Setup,
            format!("the default collection is not usable: {}", e.message()),
        )
        .with_store(store)
    })
}

fn validate_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("the {what} is empty"),
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "the {what} is {} bytes long; the limit is {MAX_NAME_BYTES} bytes",
                name.len()
            ),
        ));
    }
    if name.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("the {what} contains a NUL character"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_limit_and_refuses_one_more_byte() {
        assert!(validate_key(&"a".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(validate_key(&"a".repeat(MAX_NAME_BYTES + 1)).is_err());
        // The limit is in bytes, not characters.
        let emoji = "🦀".repeat(MAX_NAME_BYTES / 4);
        assert!(validate_collection(&emoji).is_ok());
        assert!(validate_collection(&format!("{emoji}a")).is_err());
    }

    #[test]
    fn refuses_empty_and_nul() {
        for bad in ["", "a\0b", "\0"] {
            let err = validate_key(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
        }
    }
}
