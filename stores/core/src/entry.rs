//! A stored entry and its document form, shared with py-key-value.
//!
//! Backends that store text store the JSON document of [`Entry::to_document`], written
//! byte for byte as py-key-value 0.5 writes it (`json.dumps(document, sort_keys=True)`:
//! see [`python_json`](crate::python_json)):
//!
//! ```json
//! {"collection": "c1", "created_at": "2026-11-28T03:33:18.840782+00:00", "expires_at": "2026-11-28T03:34:18.840782+00:00", "key": "k1", "value": {"a": 1, "s": "\u00e9"}, "version": 1}
//! ```
//!
//! Readers are liberal: timestamps with or without a fraction, a `value` held as a JSON
//! string (py-key-value's "string" value format), documents without `key`, `collection`
//! or `version`. A document of a newer version is refused rather than misread.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::pyjson::{JsonStyle, SortedObject, write_python_json};
use crate::ttl;

/// A stored value: a JSON object.
///
/// Its keys keep insertion order (serde_json's `preserve_order` feature, backed by the
/// `indexmap` crate), as Python's `dict` does: a value read back is in the order it was
/// put, and the Fernet wrapper encrypts it in that order, as py-key-value does. (Entry
/// documents sort keys, as py-key-value's do, so a value read from a plain store comes
/// back with its keys sorted, on both sides.)
pub type JsonObject = Map<String, Value>;

/// The document version this crate writes, and the newest it reads.
pub const ENTRY_VERSION: u64 = 1;

/// A value with its creation time and optional expiry, as a backend stores it.
///
/// `Debug` never shows the value (it may hold a secret), only how many fields it has.
#[derive(Clone, PartialEq)]
pub struct Entry {
    /// The stored JSON object.
    pub value: JsonObject,
    /// When the entry was written, if known.
    pub created_at: Option<SystemTime>,
    /// When the entry expires; `None` means never.
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("value", &format_args!("<{} fields>", self.value.len()))
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Entry {
    /// An entry written at `now` that expires after `ttl` (checked with the family's TTL rules).
    pub fn new(value: JsonObject, ttl: Option<Duration>, now: SystemTime) -> Result<Self> {
        Ok(Entry {
            value,
            created_at: Some(now),
            expires_at: ttl::expiry_for(ttl, now)?,
        })
    }

    /// Whether the entry has expired at `now` (an entry expires at its `expires_at` instant).
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Time left at `now`: `None` for an entry without expiry (or an expired one).
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at.and_then(|at| ttl::remaining(at, now))
    }

    /// The document form of the entry, byte for byte as py-key-value 0.5 writes it for
    /// the same entry: `json.dumps(document, sort_keys=True)` (keys sorted at every
    /// depth, `", "` / `": "` separators, ASCII `\u` escapes, floats as Python's
    /// `repr`).
    pub fn to_document(&self, collection: &str, key: &str) -> Result<String> {
        let document = DocumentRef {
            collection,
            created_at: self.created_at.map(format_timestamp).transpose()?,
            expires_at: self.expires_at.map(format_timestamp).transpose()?,
            key,
            value: SortedObject(&self.value),
            version: ENTRY_VERSION,
        };
        write_python_json(&document, JsonStyle::Sorted)
    }

    /// Reads a document written by [`Entry::to_document`] or by py-key-value.
    ///
    /// Any failure is an [`ErrorKind::Deserialization`] error that says what is wrong
    /// with the document, never what the value holds.
    pub fn from_document(document: &[u8]) -> Result<Self> {
        Document::parse(document).map(|document| document.entry)
    }
}

/// A parsed entry document: the entry and the names it says it belongs to (absent in
/// older documents). Stores that cannot recover names from where an entry lives (hashed
/// file names, for example) read them here.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The entry.
    pub entry: Entry,
    /// The document's `key` field.
    pub key: Option<String>,
    /// The document's `collection` field.
    pub collection: Option<String>,
}

impl Document {
    /// Parses a document; see [`Entry::from_document`].
    pub fn parse(document: &[u8]) -> Result<Self> {
        let doc: Value = serde_json::from_slice(document).map_err(|e| {
            bad_document(format!(
                "it is not valid JSON ({} at line {}, column {})",
                classify(&e),
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(mut doc) = doc else {
            return Err(bad_document("it is not a JSON object"));
        };
        if let Some(version) = doc.get("version") {
            let version = version
                .as_u64()
                .ok_or_else(|| bad_document("its `version` is not a whole number"))?;
            check_version(version)?;
        }
        let value = match doc.remove("value") {
            Some(value) => value_object(value)?,
            None => return Err(bad_document("it has no `value` field")),
        };
        let name = |field: &str| match doc.get(field) {
            Some(Value::String(name)) => Some(name.clone()),
            _ => None,
        };
        Ok(Document {
            key: name("key"),
            collection: name("collection"),
            entry: Entry {
                value,
                created_at: read_timestamp(&doc, "created_at")?,
                expires_at: read_timestamp(&doc, "expires_at")?,
            },
        })
    }
}

/// Refuses entries written in a newer format than this reader understands.
pub fn check_version(version: u64) -> Result<()> {
    if version > ENTRY_VERSION {
        return Err(bad_document(format!(
            "it has version {version}, and this reader understands version {ENTRY_VERSION} at most"
        )));
    }
    Ok(())
}

/// Reads a stored value held on its own (outside a document), as backends with a column
/// or field per part store it: a JSON object, or a JSON string holding one.
pub fn decode_value(json: &[u8]) -> Result<JsonObject> {
    let value: Value = serde_json::from_slice(json).map_err(|e| {
        bad_document(format!(
            "its value is not valid JSON ({} at line {}, column {})",
            classify(&e),
            e.line(),
            e.column()
        ))
    })?;
    value_object(value)
}

fn value_object(value: Value) -> Result<JsonObject> {
    match value {
        Value::Object(value) => Ok(value),
        Value::String(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(value)) => Ok(value),
            _ => Err(bad_document(
                "its `value` is a string that does not hold a JSON object",
            )),
        },
        _ => Err(bad_document("its `value` is not a JSON object")),
    }
}

/// The written document, borrowing the value; fields in Python's `sort_keys` order.
#[derive(serde::Serialize)]
struct DocumentRef<'a> {
    collection: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    key: &'a str,
    value: SortedObject<'a>,
    version: u64,
}

fn bad_document(why: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Deserialization,
        format!("the stored entry is unreadable: {why}"),
    )
}

/// Names the JSON error class without quoting the input (which may hold secrets).
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "truncated",
    }
}

fn read_timestamp(doc: &JsonObject, field: &str) -> Result<Option<SystemTime>> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_timestamp(text)
            .map(Some)
            .ok_or_else(|| bad_document(format!("its `{field}` is not an ISO 8601 timestamp"))),
        Some(_) => Err(bad_document(format!("its `{field}` is not a string"))),
    }
}

/// Formats a time as Python's `datetime.isoformat()` does for UTC: microseconds, and
/// no fraction at all when the microseconds are zero.
pub fn format_timestamp(at: SystemTime) -> Result<String> {
    let out_of_range = || {
        Error::new(
            ErrorKind::Serialization,
            "a timestamp is outside the range the stored format can hold",
        )
    };
    let since_epoch = at.duration_since(UNIX_EPOCH).map_err(|_| out_of_range())?;
    let secs = i64::try_from(since_epoch.as_secs()).map_err(|_| out_of_range())?;
    let at = DateTime::<Utc>::from_timestamp(secs, since_epoch.subsec_nanos())
        .ok_or_else(out_of_range)?;
    // Written digit by digit: this runs twice for every stored entry, and chrono's
    // strftime-style formatter costs several times more.
    let year = u32::try_from(at.year())
        .ok()
        .filter(|year| *year <= 9999)
        .ok_or_else(out_of_range)?;
    let mut text = String::with_capacity(32);
    push_digits(&mut text, year, 4);
    text.push('-');
    push_digits(&mut text, at.month(), 2);
    text.push('-');
    push_digits(&mut text, at.day(), 2);
    text.push('T');
    push_digits(&mut text, at.hour(), 2);
    text.push(':');
    push_digits(&mut text, at.minute(), 2);
    text.push(':');
    push_digits(&mut text, at.second(), 2);
    let micros = at.nanosecond() / 1_000;
    if micros != 0 {
        text.push('.');
        push_digits(&mut text, micros, 6);
    }
    text.push_str("+00:00");
    Ok(text)
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(text: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// Parses an ISO 8601 timestamp as Python writes it: with an offset (`+00:00`, `Z`, any
/// other offset), or without one (then read as UTC); with or without a fraction.
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?
            .and_utc(),
    };
    let secs = at.timestamp();
    let nanos = at.timestamp_subsec_nanos();
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> JsonObject {
        match v {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn timestamps_match_python_isoformat() {
        // 2026-11-28T03:33:18.840782+00:00
        assert_eq!(
            format_timestamp(at(1_795_836_798, 840_782)).unwrap(),
            "2026-11-28T03:33:18.840782+00:00"
        );
        assert_eq!(
            format_timestamp(at(1_795_836_798, 0)).unwrap(),
            "2026-11-28T03:33:18+00:00"
        );
        assert_eq!(
            format_timestamp(at(1_795_836_798, 5)).unwrap(),
            "2026-11-28T03:33:18.000005+00:00"
        );
    }

    #[test]
    fn timestamps_parse_in_every_python_form() {
        let expected = at(1_795_836_798, 840_782);
        for text in [
            "2026-11-28T03:33:18.840782+00:00",
            "2026-11-28T03:33:18.840782Z",
            "2026-11-28T05:33:18.840782+02:00",
            "2026-11-28T03:33:18.840782",
            "2026-11-28 03:33:18.840782",
        ] {
            assert_eq!(parse_timestamp(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse_timestamp("2026-11-28T03:33:18+00:00"),
            Some(at(1_795_836_798, 0))
        );
        for bad in ["", "yesterday", "2026-13-01T00:00:00+00:00", "2026-11-28"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn documents_round_trip() {
        let entry = Entry {
            value: object(json!({"a": 1, "b": [1, 2], "s": "é", "n": null})),
            created_at: Some(at(1_795_836_798, 840_782)),
            expires_at: Some(at(1_795_836_858, 840_782)),
        };
        let doc = entry.to_document("c1", "k1").unwrap();
        let parsed: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            parsed,
            json!({
                "collection": "c1", "key": "k1", "version": 1,
                "created_at": "2026-11-28T03:33:18.840782+00:00",
                "expires_at": "2026-11-28T03:34:18.840782+00:00",
                "value": {"a": 1, "b": [1, 2], "s": "é", "n": null}
            })
        );
        assert_eq!(Entry::from_document(doc.as_bytes()).unwrap(), entry);
    }

    #[test]
    fn documents_are_python_bytes() {
        // What py-key-value 0.5's `BasicSerializationAdapter().dump_json(entry, key=,
        // collection=)` printed for the same entry.
        let entry = Entry {
            value: object(json!({"b": [1, 2.5, null, true], "a": {"z": "é🦀", "y": -0.0}})),
            created_at: Some(at(1_795_836_798, 840_782)),
            expires_at: Some(at(1_795_836_858, 0)),
        };
        assert_eq!(
            entry.to_document("c\u{e9}", "k::1").unwrap(),
            r#"{"collection": "c\u00e9", "created_at": "2026-11-28T03:33:18.840782+00:00", "expires_at": "2026-11-28T03:34:18+00:00", "key": "k::1", "value": {"a": {"y": -0.0, "z": "\u00e9\ud83e\udd80"}, "b": [1, 2.5, null, true]}, "version": 1}"#
        );
    }

    #[test]
    fn values_keep_insertion_order() {
        let value = object(json!({"z": 1, "a": 2, "m": 3}));
        let keys: Vec<&str> = value.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn entries_without_expiry_omit_the_field() {
        let entry = Entry {
            value: JsonObject::new(),
            created_at: Some(at(1, 0)),
            expires_at: None,
        };
        let doc = entry.to_document("c", "k").unwrap();
        assert!(!doc.contains("expires_at"), "{doc}");
    }

    #[test]
    fn reads_python_documents() {
        // As py-key-value writes them: sorted keys, spaces after separators.
        let python = r#"{"collection": "c1", "created_at": "2026-11-28T03:33:18+00:00", "key": "k1", "value": {"a": 1}, "version": 1}"#;
        let entry = Entry::from_document(python.as_bytes()).unwrap();
        assert_eq!(entry.value, object(json!({"a": 1})));
        assert_eq!(entry.expires_at, None);

        // The "string" value format, and an old document with no metadata.
        let string_form =
            r#"{"value": "{\"a\": [1, 2]}", "expires_at": "2026-11-28T03:34:18.840782+00:00"}"#;
        let entry = Entry::from_document(string_form.as_bytes()).unwrap();
        assert_eq!(entry.value, object(json!({"a": [1, 2]})));
        assert_eq!(entry.expires_at, Some(at(1_795_836_858, 840_782)));
        assert_eq!(entry.created_at, None);
    }

    #[test]
    fn refuses_bad_documents_with_clear_reasons() {
        let cases: &[(&str, &str)] = &[
            ("", "not valid JSON"),
            ("{\"value\": {\"a\": 1}", "not valid JSON"),
            ("[1, 2]", "not a JSON object"),
            ("{}", "no `value`"),
            (r#"{"value": 3}"#, "not a JSON object"),
            (r#"{"value": "[1]"}"#, "does not hold a JSON object"),
            (r#"{"value": {}, "version": 2}"#, "version 2"),
            (r#"{"value": {}, "version": "1"}"#, "not a whole number"),
            (r#"{"value": {}, "created_at": "noon"}"#, "`created_at`"),
            (
                r#"{"value": {}, "expires_at": 17}"#,
                "`expires_at` is not a string",
            ),
        ];
        for (doc, reason) in cases {
            let err = Entry::from_document(doc.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Deserialization);
            assert!(err.to_string().contains(reason), "{doc}: {err}");
        }
        let not_utf8 = Entry::from_document(&[0xff, 0xfe, 0x00]).unwrap_err();
        assert_eq!(not_utf8.kind(), ErrorKind::Deserialization);
    }

    #[test]
    fn errors_never_quote_the_stored_value() {
        let err =
            Entry::from_document(br#"{"value": {"token": "s3cr3t"}, "version": 9}"#).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
        let err = Entry::from_document(br#"{"value": {"token": "s3cr3t""#).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }

    #[test]
    fn debug_hides_the_value() {
        let entry = Entry {
            value: object(json!({"token": "s3cr3t"})),
            created_at: None,
            expires_at: None,
        };
        assert!(!format!("{entry:?}").contains("s3cr3t"));
    }

    #[test]
    fn expiry_is_inclusive() {
        let now = SystemTime::now();
        let entry = Entry {
            value: JsonObject::new(),
            created_at: None,
            expires_at: Some(now),
        };
        assert!(entry.is_expired(now));
        assert_eq!(entry.remaining(now), None);
        assert!(!entry.is_expired(now - Duration::from_millis(1)));
    }
}
