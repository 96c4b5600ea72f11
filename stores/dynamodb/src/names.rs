//! How collection and key names become DynamoDB key attributes.
//!
//! Names within DynamoDB's key limits are stored exactly as written, as py-key-value
//! stores them. Longer names (the contract allows 4096 bytes) are replaced by a digest
//! that starts with a NUL character: real names never contain NUL, so a digest can
//! never be mistaken for, or collide with, a name stored as written. The original name
//! is then kept in its own attribute so that enumeration can return it.

use std::borrow::Cow;
use std::fmt::Write;

use sha2::{Digest, Sha256};

/// DynamoDB's limit on a partition key value (the collection), in bytes.
pub(crate) const PARTITION_KEY_MAX_BYTES: usize = 2048;

/// DynamoDB's limit on a sort key value (the key), in bytes.
pub(crate) const SORT_KEY_MAX_BYTES: usize = 1024;

/// The start of every mapped name.
const MARKER: &str = "\0sha256:";

/// The stored form of `name` under a key attribute limited to `limit` bytes.
pub(crate) fn stored_name(name: &str, limit: usize) -> Cow<'_, str> {
    if name.len() <= limit {
        return Cow::Borrowed(name);
    }
    let digest = Sha256::digest(name.as_bytes());
    let mut mapped = String::with_capacity(MARKER.len() + 2 * digest.len());
    mapped.push_str(MARKER);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(mapped, "{byte:02x}");
    }
    Cow::Owned(mapped)
}

/// The stored form of a collection name.
pub(crate) fn stored_collection(collection: &str) -> Cow<'_, str> {
    stored_name(collection, PARTITION_KEY_MAX_BYTES)
}

/// The stored form of a key.
pub(crate) fn stored_key(key: &str) -> Cow<'_, str> {
    stored_name(key, SORT_KEY_MAX_BYTES)
}

/// Whether a stored key attribute holds a digest rather than the name itself.
pub(crate) fn is_mapped(stored: &str) -> bool {
    stored.starts_with(MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_within_the_limits_are_kept_as_written() {
        for name in ["k", "a::b", "\u{1F980}", &"x".repeat(SORT_KEY_MAX_BYTES)] {
            assert_eq!(stored_key(name), name);
            assert!(!is_mapped(&stored_key(name)));
        }
        let longest = "c".repeat(PARTITION_KEY_MAX_BYTES);
        assert_eq!(stored_collection(&longest), longest.as_str());
    }

    #[test]
    fn long_names_map_to_distinct_digests_within_the_limits() {
        let a = "a".repeat(SORT_KEY_MAX_BYTES + 1);
        let b = format!("{}b", "a".repeat(SORT_KEY_MAX_BYTES));
        let (ma, mb) = (stored_key(&a), stored_key(&b));
        assert!(is_mapped(&ma) && is_mapped(&mb));
        assert_ne!(ma, mb);
        assert!(ma.len() <= SORT_KEY_MAX_BYTES);
        // Deterministic: the same name always maps to the same stored key.
        assert_eq!(ma, stored_key(&a));
        // The limit is in bytes: 257 four-byte characters are over 1024 bytes.
        assert!(is_mapped(&stored_key(&"\u{1F980}".repeat(257))));
        assert!(!is_mapped(&stored_key(&"\u{1F980}".repeat(256))));
    }
}
