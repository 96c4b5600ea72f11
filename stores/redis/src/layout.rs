//! Where an entry lives in Redis: the string key `collection::key`, as py-key-value lays
//! it out, made unambiguous.
//!
//! py-key-value joins collection and key with `::` and splits on the first `::`. That is
//! ambiguous when the collection itself contains `::` (collection `a`, key `b::c` and
//! collection `a::b`, key `c` are both `a::b::c`) or ends with `:` (`a:` + `::` + `k`
//! reads as collection `a`, key `:k`). So a collection is written as is — byte for byte
//! what py-key-value writes — unless it contains `::` or `%` or ends with `:`; such a
//! collection is written percent-encoded, `%` as `%25` and every `:` as `%3A`. An encoded
//! collection always contains `%` and never `:`, a collection written as is never
//! contains `%` or `::` nor ends with `:`, so the first `::` of a Redis key always ends
//! the collection and no two (collection, key) pairs share a Redis key. Keys are never
//! encoded: they follow the first `::`.

use std::borrow::Cow;

/// The separator between collection and key.
pub(crate) const SEPARATOR: &str = "::";

/// Whether `collection` is stored as is (what py-key-value writes).
fn is_plain(collection: &str) -> bool {
    !collection.contains(SEPARATOR) && !collection.contains('%') && !collection.ends_with(':')
}

/// The collection as it appears in Redis keys.
pub(crate) fn encode_collection(collection: &str) -> Cow<'_, str> {
    if is_plain(collection) {
        return Cow::Borrowed(collection);
    }
    let mut encoded = String::with_capacity(collection.len() + 8);
    for c in collection.chars() {
        match c {
            '%' => encoded.push_str("%25"),
            ':' => encoded.push_str("%3A"),
            c => encoded.push(c),
        }
    }
    Cow::Owned(encoded)
}

/// The collection a Redis key prefix stands for, or `None` when no collection is stored
/// that way (a key this layout did not write).
fn decode_collection(stored: &str) -> Option<Cow<'_, str>> {
    if !stored.contains('%') {
        return is_plain(stored).then_some(Cow::Borrowed(stored));
    }
    if stored.contains(':') {
        return None;
    }
    let mut decoded = String::with_capacity(stored.len());
    let mut rest = stored;
    while let Some(at) = rest.find('%') {
        decoded.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        match escape {
            "%25" => decoded.push('%'),
            "%3A" => decoded.push(':'),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    decoded.push_str(rest);
    // Only the canonical form is ours: `a%25b` stands for `a%b`, but a plain-looking
    // collection would never have been encoded.
    (!is_plain(&decoded)).then_some(Cow::Owned(decoded))
}

/// The Redis key of `key` in `collection`.
///
/// For a collection without `::` or `%` that does not end with `:` this is exactly
/// py-key-value's `collection::key`; other collections are percent-encoded first (see
/// the crate documentation).
///
/// ```
/// use key_value_redis::redis_key;
///
/// assert_eq!(redis_key("tokens", "user:1"), "tokens::user:1");
/// assert_eq!(redis_key("a", "b::c"), "a::b::c");
/// assert_eq!(redis_key("a::b", "c"), "a%3A%3Ab::c");
/// ```
pub fn redis_key(collection: &str, key: &str) -> String {
    let collection = encode_collection(collection);
    let mut stored = String::with_capacity(collection.len() + SEPARATOR.len() + key.len());
    stored.push_str(&collection);
    stored.push_str(SEPARATOR);
    stored.push_str(key);
    stored
}

/// The collection and key a Redis key stands for, or `None` for keys this layout never
/// writes (not UTF-8, no `::`, a collection part that is not canonical).
pub(crate) fn split_redis_key(stored: &[u8]) -> Option<(String, String)> {
    let stored = std::str::from_utf8(stored).ok()?;
    let (collection, key) = stored.split_once(SEPARATOR)?;
    if collection.is_empty() || key.is_empty() {
        return None;
    }
    Some((decode_collection(collection)?.into_owned(), key.to_owned()))
}

/// The `SCAN MATCH` pattern of every key in `collection`: its stored form with glob
/// characters escaped, then `::*`.
pub(crate) fn collection_pattern(collection: &str) -> String {
    let collection = encode_collection(collection);
    let mut pattern = String::with_capacity(collection.len() + 8);
    for c in collection.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(SEPARATOR);
    pattern.push('*');
    pattern
}

/// The `SCAN MATCH` pattern of every key this layout may have written.
pub(crate) const ALL_PATTERN: &str = "*::*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_collections_match_py_key_value() {
        for (collection, key) in [
            ("default_collection", "k"),
            ("c", "a::b"),
            (":leading", "k"),
            ("a:b", ":k"),
            ("é🦀", "k"),
        ] {
            assert_eq!(redis_key(collection, key), format!("{collection}::{key}"));
        }
    }

    #[test]
    fn separator_lookalikes_differ() {
        assert_ne!(redis_key("a", "b::c"), redis_key("a::b", "c"));
        assert_ne!(redis_key("a", "::k"), redis_key("a:", ":k"));
        assert_ne!(redis_key("a%3A%3Ab", "c"), redis_key("a::b", "c"));
        assert_ne!(redis_key("::", "k"), redis_key(":", ":k"));
    }

    #[test]
    fn every_name_splits_back() {
        let names = [
            "a", "::", ":", "a::b", "a:", ":a", "%", "%25", "%3A", "a%b", "a%3Ab", "%%", "::::",
            "*", "[x]", "\\", "a b", "é", ":::",
        ];
        for collection in names {
            for key in names {
                let stored = redis_key(collection, key);
                assert_eq!(
                    split_redis_key(stored.as_bytes()),
                    Some((collection.to_owned(), key.to_owned())),
                    "{stored:?}"
                );
            }
        }
    }

    #[test]
    fn foreign_keys_are_not_ours() {
        for stored in [
            &b"no-separator"[..],
            b"::k",
            b"c::",
            b"a%zz::k",
            b"a%3::k",
            b"plain%41::k",
            b"\xff::k",
        ] {
            assert_eq!(split_redis_key(stored), None, "{stored:?}");
        }
        // `a%41` is not canonical (`%41` is never written), `a%3Ab` is `a:b`'s encoding
        // only if `a:b` would be encoded, which it is not.
        assert_eq!(split_redis_key(b"a%3Ab::k"), None);
    }

    #[test]
    fn patterns_escape_glob_characters() {
        assert_eq!(collection_pattern("c"), "c::*");
        assert_eq!(collection_pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\::*");
        assert_eq!(collection_pattern("a::b"), "a%3A%3Ab::*");
    }
}
