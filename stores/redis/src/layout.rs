//! Where an entry lives in Redis: the string key `collection::key`, exactly as
//! py-key-value lays it out, for every name.
//!
//! The layout is ambiguous: collection `a` with key `b::c` and collection `a::b` with
//! key `c` are the one Redis key `a::b::c`. The stored document says which name it was
//! written under (py-key-value 0.5 writes `collection` and `key` fields too), so readers
//! and enumeration take the names from there ([`owner`]); a document without them (or
//! one that cannot be read) is attributed as py-key-value attributes every key, by
//! splitting at the first `::`.

use key_value_core::Document;

/// The separator between collection and key.
pub(crate) const SEPARATOR: &str = "::";

/// The Redis key of `key` in `collection`: `collection::key`, byte for byte what
/// py-key-value writes, whatever the names hold.
///
/// ```
/// use key_value_redis::redis_key;
///
/// assert_eq!(redis_key("tokens", "user:1"), "tokens::user:1");
/// assert_eq!(redis_key("a", "b::c"), "a::b::c");
/// assert_eq!(redis_key("a::b", "c"), "a::b::c"); // the same key: see the crate docs
/// ```
pub fn redis_key(collection: &str, key: &str) -> String {
    let mut stored = String::with_capacity(collection.len() + SEPARATOR.len() + key.len());
    stored.push_str(collection);
    stored.push_str(SEPARATOR);
    stored.push_str(key);
    stored
}

/// Whether a document read under the Redis key of (`collection`, `key`) was written
/// for that name: it names exactly that collection and key, or it names none (then the
/// Redis key alone decides, as in py-key-value).
pub(crate) fn written_for(document: &Document, collection: &str, key: &str) -> bool {
    match (&document.collection, &document.key) {
        (Some(c), Some(k)) => c == collection && k == key,
        _ => true,
    }
}

/// The (collection, key) an entry stored under the Redis key `stored` belongs to: the
/// names its document carries when they spell `stored`, else py-key-value's reading (the
/// collection ends at the first `::`). `None` for keys this layout never writes (not
/// UTF-8, no `::`, an empty part).
pub(crate) fn owner(stored: &[u8], document: Option<&Document>) -> Option<(String, String)> {
    let stored = std::str::from_utf8(stored).ok()?;
    if let Some(Document {
        collection: Some(collection),
        key: Some(key),
        ..
    }) = document
        && !collection.is_empty()
        && !key.is_empty()
        && stored.len() == collection.len() + SEPARATOR.len() + key.len()
        && stored.starts_with(collection.as_str())
        && stored[collection.len()..].starts_with(SEPARATOR)
        && stored.ends_with(key.as_str())
    {
        return Some((collection.clone(), key.clone()));
    }
    let (collection, key) = stored.split_once(SEPARATOR)?;
    if collection.is_empty() || key.is_empty() {
        return None;
    }
    Some((collection.to_owned(), key.to_owned()))
}

/// `text` with Redis glob characters escaped, for a `SCAN MATCH` pattern.
fn glob_escape(text: &str, pattern: &mut String) {
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
}

/// The `SCAN MATCH` pattern of every Redis key that may hold an entry of `collection`:
/// `collection::*`, glob characters escaped. It also matches entries of collections
/// that start with `collection::`; [`owner`] tells them apart.
pub(crate) fn collection_pattern(collection: &str) -> String {
    let mut pattern = String::with_capacity(collection.len() + 8);
    glob_escape(collection, &mut pattern);
    pattern.push_str(SEPARATOR);
    pattern.push('*');
    pattern
}

/// The `SCAN MATCH` pattern of every key this layout may have written.
pub(crate) const ALL_PATTERN: &str = "*::*";

#[cfg(test)]
mod tests {
    use super::*;
    use key_value_core::{Entry, JsonObject};

    fn document(collection: &str, key: &str) -> Document {
        let entry = Entry {
            value: JsonObject::new(),
            created_at: None,
            expires_at: None,
        };
        let text = entry.to_document(collection, key).unwrap();
        Document::parse(text.as_bytes()).unwrap()
    }

    fn nameless() -> Document {
        Document::parse(br#"{"value": {}}"#).unwrap()
    }

    #[test]
    fn keys_are_py_key_values_for_every_name() {
        for (collection, key) in [
            ("default_collection", "k"),
            ("c", "a::b"),
            ("a::b", "c"),
            ("%2F%00", "k"),
            ("a:", ":k"),
            ("é🦀", "k"),
        ] {
            assert_eq!(redis_key(collection, key), format!("{collection}::{key}"));
        }
    }

    #[test]
    fn documents_name_their_owner() {
        let names = [
            "a", "::", ":", "a::b", "a:", ":a", "%", "%3A", "::::", "*", "\\", "é", ":::",
        ];
        for collection in names {
            for key in names {
                let stored = redis_key(collection, key);
                let doc = document(collection, key);
                assert_eq!(
                    owner(stored.as_bytes(), Some(&doc)),
                    Some((collection.to_owned(), key.to_owned())),
                    "{stored:?}"
                );
                assert!(written_for(&doc, collection, key));
            }
        }
    }

    #[test]
    fn python_written_collections_with_separators_are_not_split() {
        // Data that py-key-value wrote for collection `a::b`: no phantom collection `a`.
        let doc = document("a::b", "k");
        assert_eq!(
            owner(b"a::b::k", Some(&doc)),
            Some(("a::b".to_owned(), "k".to_owned()))
        );
        assert!(!written_for(&doc, "a", "b::k"));
    }

    #[test]
    fn documents_without_names_split_at_the_first_separator() {
        assert_eq!(
            owner(b"a::b::k", Some(&nameless())),
            Some(("a".to_owned(), "b::k".to_owned()))
        );
        assert_eq!(
            owner(b"a::b::k", None),
            Some(("a".to_owned(), "b::k".to_owned()))
        );
        assert!(written_for(&nameless(), "a", "b::k"));
        // Names that do not spell the Redis key (a copied document) are not believed.
        let copied = document("x", "y");
        assert_eq!(
            owner(b"a::k", Some(&copied)),
            Some(("a".to_owned(), "k".to_owned()))
        );
    }

    #[test]
    fn foreign_keys_are_not_ours() {
        for stored in [&b"no-separator"[..], b"::k", b"c::", b"\xff::k"] {
            assert_eq!(owner(stored, None), None, "{stored:?}");
        }
    }

    #[test]
    fn patterns_escape_glob_characters() {
        assert_eq!(collection_pattern("c"), "c::*");
        assert_eq!(collection_pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\::*");
        assert_eq!(collection_pattern("a::b"), "a::b::*");
    }
}
