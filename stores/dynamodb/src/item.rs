//! The item layout shared with py-key-value: `collection` (S, partition key), `key` (S,
//! sort key), `value` (S, the entry document) and `ttl` (N, expiry in whole epoch
//! seconds). Names too long for a key attribute also get `original_collection` /
//! `original_key` (S), which py-key-value never writes and ignores.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use key_value_core::{Entry, Error, ErrorKind, Result};

use crate::names::{is_mapped, stored_collection, stored_key};

/// The partition key attribute.
pub(crate) const COLLECTION: &str = "collection";
/// The sort key attribute.
pub(crate) const KEY: &str = "key";
/// The entry document.
pub(crate) const VALUE: &str = "value";
/// The expiry in whole epoch seconds, for DynamoDB's own TTL.
pub(crate) const TTL: &str = "ttl";
/// The collection name, when the partition key holds a digest of it.
pub(crate) const ORIGINAL_COLLECTION: &str = "original_collection";
/// The key, when the sort key holds a digest of it.
pub(crate) const ORIGINAL_KEY: &str = "original_key";

/// DynamoDB's limit on the size of one item.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The largest entry document this store writes, in bytes: DynamoDB's 400 KB item
/// limit less 12 KiB kept for the other attributes (key attributes of up to 3 KiB, or
/// digests plus original names of up to 8 KiB, and the `ttl` number), so that every
/// document up to this size is accepted whatever its names.
pub const MAX_ENTRY_BYTES: usize = MAX_ITEM_BYTES - 12 * 1024;

/// One DynamoDB item (or primary key).
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The primary key of `key` in `collection`.
pub(crate) fn primary_key(collection: &str, key: &str) -> Item {
    HashMap::from([
        (
            COLLECTION.to_owned(),
            AttributeValue::S(stored_collection(collection).into_owned()),
        ),
        (
            KEY.to_owned(),
            AttributeValue::S(stored_key(key).into_owned()),
        ),
    ])
}

/// The item that stores `entry`; a document over [`MAX_ENTRY_BYTES`] is a
/// `ValueTooLarge` error.
pub(crate) fn encode(collection: &str, key: &str, entry: &Entry) -> Result<Item> {
    let document = entry.to_document(collection, key)?;
    item_for_document(collection, key, document, entry.expires_at)
}

/// The item that stores `document` (already encoded) with the given expiry.
pub(crate) fn item_for_document(
    collection: &str,
    key: &str,
    document: String,
    expires_at: Option<SystemTime>,
) -> Result<Item> {
    if document.len() > MAX_ENTRY_BYTES {
        return Err(Error::value_too_large(document.len(), MAX_ENTRY_BYTES));
    }
    let mut item = primary_key(collection, key);
    if let Some(AttributeValue::S(stored)) = item.get(COLLECTION)
        && is_mapped(stored)
    {
        item.insert(
            ORIGINAL_COLLECTION.to_owned(),
            AttributeValue::S(collection.to_owned()),
        );
    }
    if let Some(AttributeValue::S(stored)) = item.get(KEY)
        && is_mapped(stored)
    {
        item.insert(ORIGINAL_KEY.to_owned(), AttributeValue::S(key.to_owned()));
    }
    item.insert(VALUE.to_owned(), AttributeValue::S(document));
    if let Some(at) = expires_at {
        item.insert(
            TTL.to_owned(),
            AttributeValue::N(ttl_seconds(at).to_string()),
        );
    }
    Ok(item)
}

/// Expiry as whole epoch seconds, rounded down as py-key-value does, so both write the
/// same item for the same entry. py-key-value reads this attribute as the expiry (it
/// wins over the document's); rounding up would keep our entries alive for Python up
/// to a second longer than asked.
pub(crate) fn ttl_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// The `ttl` attribute as a time, if present and readable.
fn ttl_attribute(item: &Item) -> Option<SystemTime> {
    let AttributeValue::N(number) = item.get(TTL)? else {
        return None;
    };
    // DynamoDB numbers may carry a fraction; whole seconds are what TTL uses.
    let whole = number.split('.').next()?;
    let secs: u64 = whole.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// The entry an item holds. The document's own expiry is exact and wins; the `ttl`
/// attribute is used only for documents that carry none (py-key-value gives the
/// attribute precedence, and writes both from the same expiry).
pub(crate) fn decode(item: &Item) -> Result<Entry> {
    let Some(AttributeValue::S(document)) = item.get(VALUE) else {
        return Err(Error::new(
            ErrorKind::Deserialization,
            "the stored item has no `value` string attribute",
        ));
    };
    let mut entry = Entry::from_document(document.as_bytes())?;
    if entry.expires_at.is_none() {
        entry.expires_at = ttl_attribute(item);
    }
    Ok(entry)
}

/// Whether a listed item is live at `now`. The whole-second `ttl` attribute decides
/// unless `now` is within a second of it (it may be rounded either way); then, or
/// without the attribute, the document decides. An unreadable document counts as
/// live, so that enumeration still shows (and lets callers replace) the entry.
pub(crate) fn is_live(item: &Item, now: SystemTime) -> bool {
    if let Some(ttl) = ttl_attribute(item) {
        let second = Duration::from_secs(1);
        if ttl.checked_add(second).is_some_and(|late| now >= late) {
            return false;
        }
        if ttl.checked_sub(second).is_some_and(|early| now < early) {
            return true;
        }
    }
    match decode(item) {
        Ok(entry) => !entry.is_expired(now),
        Err(_) => true,
    }
}

/// The name an item was written under: the original attribute when the key attribute
/// holds a digest, else the key attribute itself.
fn listed_name(item: &Item, attribute: &str, original: &str) -> Option<String> {
    let AttributeValue::S(stored) = item.get(attribute)? else {
        return None;
    };
    if !is_mapped(stored) {
        return Some(stored.clone());
    }
    match item.get(original) {
        Some(AttributeValue::S(name)) => Some(name.clone()),
        _ => None,
    }
}

/// The key an item was written under.
pub(crate) fn listed_key(item: &Item) -> Option<String> {
    listed_name(item, KEY, ORIGINAL_KEY)
}

/// The collection an item was written in.
pub(crate) fn listed_collection(item: &Item) -> Option<String> {
    listed_name(item, COLLECTION, ORIGINAL_COLLECTION)
}

/// The primary key of a listed item (its key attributes, as stored).
pub(crate) fn key_of(item: &Item) -> Option<Item> {
    let collection = item.get(COLLECTION)?.clone();
    let key = item.get(KEY)?.clone();
    Some(HashMap::from([
        (COLLECTION.to_owned(), collection),
        (KEY.to_owned(), key),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::SORT_KEY_MAX_BYTES;
    use key_value_core::JsonObject;

    fn entry(expires_at: Option<SystemTime>) -> Entry {
        let mut value = JsonObject::new();
        value.insert("a".into(), 1.into());
        Entry {
            value,
            created_at: Some(UNIX_EPOCH + Duration::from_secs(1_000)),
            expires_at,
        }
    }

    #[test]
    fn ttl_rounds_down_to_whole_seconds_as_python_does() {
        let at = UNIX_EPOCH + Duration::from_millis(1_999);
        assert_eq!(ttl_seconds(at), 1);
        assert_eq!(ttl_seconds(UNIX_EPOCH + Duration::from_secs(7)), 7);
    }

    #[test]
    fn items_round_trip_with_the_exact_expiry() {
        let at = UNIX_EPOCH + Duration::from_micros(2_000_000_123_456);
        let item = encode("c", "k", &entry(Some(at))).unwrap();
        assert_eq!(item[TTL], AttributeValue::N("2000000".into()));
        assert_eq!(item[COLLECTION], AttributeValue::S("c".into()));
        assert!(!item.contains_key(ORIGINAL_KEY));
        assert_eq!(decode(&item).unwrap(), entry(Some(at)));
        assert!(is_live(&item, at - Duration::from_micros(1)));
        assert!(!is_live(&item, at));
    }

    #[test]
    fn ttl_attribute_is_used_when_the_document_has_no_expiry() {
        let mut item = encode("c", "k", &entry(None)).unwrap();
        assert!(!item.contains_key(TTL));
        item.insert(TTL.into(), AttributeValue::N("5".into()));
        assert_eq!(
            decode(&item).unwrap().expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(5))
        );
    }

    #[test]
    fn long_keys_keep_their_original_name() {
        let long = "k".repeat(SORT_KEY_MAX_BYTES + 1);
        let item = encode("c", &long, &entry(None)).unwrap();
        assert_eq!(item[ORIGINAL_KEY], AttributeValue::S(long.clone()));
        assert_eq!(listed_key(&item), Some(long));
        assert_eq!(listed_collection(&item), Some("c".to_owned()));
    }

    #[test]
    fn oversized_documents_are_refused_naming_the_limit() {
        let document = "x".repeat(MAX_ENTRY_BYTES + 1);
        let err = item_for_document("c", "k", document, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
        assert!(err.to_string().contains(&MAX_ENTRY_BYTES.to_string()));
    }

    #[test]
    fn unreadable_items_are_errors_but_listed_as_live() {
        let mut item = primary_key("c", "k");
        assert_eq!(
            decode(&item).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
        item.insert(VALUE.into(), AttributeValue::S("{not json".into()));
        assert_eq!(
            decode(&item).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
        assert!(is_live(&item, SystemTime::now()));
    }
}
