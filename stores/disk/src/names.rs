//! File and directory names: py-key-value's `FileTreeV1` sanitization strategies, rule for
//! rule, so that a name maps to the file py-key-value's `FileTreeStore` uses for it.
//!
//! Both strategies are py-key-value's `HybridSanitizationStrategy` (0.5.0,
//! `key_value/aio/_utils/sanitization.py`) with the allowed characters `[A-Za-z0-9_]`,
//! the replacement `_` and a hash fragment only when the name changed:
//!
//! 1. Every run of characters outside `[A-Za-z0-9_]` becomes one `_`; a name that is
//!    nothing but such characters becomes the empty string (not `_`).
//! 2. If that changed the name: `S_` + the result cut to `max - 11` characters + `-` +
//!    the first 8 hex digits of the SHA-256 of the original name's UTF-8 bytes.
//! 3. If it did not change, but the name is longer than `max`: `S_` + its first
//!    `max - 2` characters, with **no** hash fragment. Two such names with the same first
//!    `max - 2` characters, or one of them and a short name that is exactly that
//!    `S_`-prefixed text, share a file: the store detects it (each entry we write holds
//!    its `key` and `collection`) and refuses to let one overwrite the other.
//! 4. Otherwise the name is used as it is.
//!
//! Where py-key-value would put two names in one file, this store does not: the first
//! name written keeps py-key-value's file (so Python finds it), and a later name whose
//! file turns out to hold another name's entry goes to an *overflow* name instead,
//! `S_` + the sanitized name cut short + `-` + 16 hex digits of its SHA-256
//! ([`overflow`]), which py-key-value never produces (its fragments have 8 digits) and
//! does not read. For collections the same holds for directories, told apart by the
//! `collection` of their info files.
//!
//! `max` is, for collections, the file system's `NAME_MAX` less 10 (room for
//! `-info.json`): 245 on ext4, tmpfs, btrfs and xfs; for keys, the smaller of
//! `NAME_MAX - 5` (room for `.json`) and `PATH_MAX` (4096 on Linux) less the length of
//! the store's directory path in characters: 250 unless the directory's path is longer
//! than 3,846 characters.

use sha2::{Digest, Sha256};

/// Characters that are kept as they are.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The number of hex digits of the hash fragment.
pub(crate) const HASH_FRAGMENT: usize = 8;
/// `S_` + `-` + the hash fragment.
const OVERHEAD: usize = 2 + 1 + HASH_FRAGMENT;
/// The suffix of entry files.
pub(crate) const ENTRY_SUFFIX: &str = ".json";
/// The suffix of collection info files, after the sanitized collection name.
pub(crate) const INFO_SUFFIX: &str = "-info.json";
/// `PATH_MAX` as Python's `os.pathconf(..., "PC_PATH_MAX")` reports it on Linux.
pub(crate) const PATH_MAX: usize = 4096;
/// The shortest limit the store accepts: below it the strategies' arithmetic breaks down.
pub(crate) const SHORTEST_LIMIT: usize = 2 * OVERHEAD;

/// py-key-value's `HybridSanitizationStrategy.sanitize` for the `FileTreeV1` settings.
pub(crate) fn sanitize(value: &str, max_length: usize) -> String {
    let mut sanitized = String::with_capacity(value.len().min(max_length));
    let mut last_replaced = false;
    for c in value.chars() {
        if allowed(c) {
            sanitized.push(c);
            last_replaced = false;
        } else if !last_replaced {
            sanitized.push('_');
            last_replaced = true;
        }
    }
    if sanitized.len() == 1 && last_replaced {
        sanitized.clear();
    }
    // `sanitized` is ASCII from here on: byte lengths are character counts.
    if sanitized != value {
        let digest = Sha256::digest(value.as_bytes());
        let mut fragment = String::with_capacity(HASH_FRAGMENT);
        for byte in &digest[..HASH_FRAGMENT / 2] {
            fragment.push_str(&format!("{byte:02x}"));
        }
        sanitized.truncate(max_length.saturating_sub(OVERHEAD));
        return format!("S_{sanitized}-{fragment}");
    }
    if sanitized.len() > max_length {
        sanitized.truncate(max_length.saturating_sub(2));
        return format!("S_{sanitized}");
    }
    sanitized
}

/// The number of hex digits of an overflow name's hash.
const OVERFLOW_HASH: usize = 16;

/// The overflow name of a name whose py-key-value file or directory holds another
/// name's entry: `S_` + the character-sanitized name cut to fit + `-` + 16 hex digits of
/// the SHA-256 of the original name; at most `max_length` characters.
pub(crate) fn overflow(value: &str, max_length: usize) -> String {
    let mut sanitized = String::with_capacity(value.len().min(max_length));
    let mut last_replaced = false;
    for c in value.chars() {
        if allowed(c) {
            sanitized.push(c);
            last_replaced = false;
        } else if !last_replaced {
            sanitized.push('_');
            last_replaced = true;
        }
    }
    sanitized.truncate(max_length.saturating_sub(2 + 1 + OVERFLOW_HASH));
    let digest = Sha256::digest(value.as_bytes());
    let mut hash = String::with_capacity(OVERFLOW_HASH);
    for byte in &digest[..OVERFLOW_HASH / 2] {
        hash.push_str(&format!("{byte:02x}"));
    }
    format!("S_{sanitized}-{hash}")
}

/// The limits of one store's directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `max_length` of `FileTreeV1CollectionSanitizationStrategy`.
    pub(crate) collection: usize,
    /// `max_length` of `FileTreeV1KeySanitizationStrategy`.
    pub(crate) key: usize,
}

impl Limits {
    /// The limits for a directory whose path has `root_chars` characters, on a file
    /// system whose longest file name is `name_max` bytes.
    pub(crate) fn new(name_max: usize, root_chars: usize) -> Self {
        Limits {
            collection: name_max.saturating_sub(INFO_SUFFIX.len()),
            key: PATH_MAX
                .saturating_sub(root_chars)
                .min(name_max.saturating_sub(ENTRY_SUFFIX.len())),
        }
    }

    /// The directory of a collection (also the info file's name before `-info.json`).
    pub(crate) fn collection(&self, collection: &str) -> String {
        sanitize(collection, self.collection)
    }

    /// The overflow directory of a collection.
    pub(crate) fn collection_overflow(&self, collection: &str) -> String {
        overflow(collection, self.collection)
    }

    /// The file name of a key's entry.
    pub(crate) fn key_file(&self, key: &str) -> String {
        let mut name = sanitize(key, self.key);
        name.push_str(ENTRY_SUFFIX);
        name
    }

    /// The overflow file name of a key's entry.
    pub(crate) fn key_overflow(&self, key: &str) -> String {
        let mut name = overflow(key, self.key);
        name.push_str(ENTRY_SUFFIX);
        name
    }

    /// Whether py-key-value's file name for `key` is one that another name maps to by
    /// construction: a name cut short without a hash fragment (`S_` + `max - 2`
    /// characters), which is also what a name of exactly that text maps to.
    pub(crate) fn key_shared_by_construction(&self, key: &str) -> bool {
        let name = sanitize(key, self.key);
        name.len() == self.key && name.starts_with("S_") && !name.contains('-')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_py_key_value() {
        // Values computed with py-key-value-aio 0.5.0's strategies (max 245 and 250).
        let limits = Limits::new(255, 20);
        assert_eq!(
            limits.collection("mcp-oauth-token"),
            "S_mcp_oauth_token-3a009b34"
        );
        assert_eq!(limits.collection("tokens"), "tokens");
        assert_eq!(limits.key_file("a_B_9"), "a_B_9.json");
        assert_eq!(sanitize("é", 245), format!("S_-{}", &hex("é")[..8]));
        assert_eq!(sanitize("_", 245), "_");
        assert_eq!(
            sanitize("a..b//c", 245),
            format!("S_a_b_c-{}", &hex("a..b//c")[..8])
        );
        let long = "n".repeat(300);
        assert_eq!(sanitize(&long, 250), format!("S_{}", "n".repeat(248)));
        let long_changed = format!("{}!", "x".repeat(300));
        let got = sanitize(&long_changed, 250);
        assert_eq!(got.len(), 250);
        assert!(got.starts_with("S_xxx") && got.ends_with(&hex(&long_changed)[..8]));
    }

    #[test]
    fn overflow_names_are_distinct_and_fit() {
        let limits = Limits::new(255, 20);
        let a = format!("{}a", "x".repeat(300));
        let b = format!("{}b", "x".repeat(300));
        assert_eq!(limits.key_file(&a), limits.key_file(&b));
        assert!(limits.key_shared_by_construction(&a));
        assert_ne!(limits.key_overflow(&a), limits.key_overflow(&b));
        assert_eq!(limits.key_overflow(&a).len(), 250 + ENTRY_SUFFIX.len());
        assert!(!limits.key_shared_by_construction("short"));
    }

    #[test]
    fn limits_follow_the_path_length() {
        assert_eq!(Limits::new(255, 30).key, 250);
        assert_eq!(Limits::new(255, 4000).key, 96);
        assert_eq!(Limits::new(255, 30).collection, 245);
    }

    fn hex(value: &str) -> String {
        Sha256::digest(value.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
