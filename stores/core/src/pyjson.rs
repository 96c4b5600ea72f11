//! JSON text exactly as Python's `json.dumps` writes it, so that what a Rust program
//! stores is byte for byte what py-key-value stores for the same input.
//!
//! py-key-value 0.5 writes JSON in two ways:
//!
//! - entry documents: `json.dumps(document, sort_keys=True)` (its
//!   `managed_entry.dump_to_json`): `", "` and `": "` separators, the keys of every
//!   object (nested ones too) sorted by code point; [`JsonStyle::Sorted`];
//! - the Fernet wrapper's plaintext: `json.dumps(value, separators=(",", ":"))`: no
//!   spaces, keys in insertion order; [`JsonStyle::Compact`].
//!
//! Both with Python's defaults otherwise (`ensure_ascii=True`): every character outside
//! `' '..='~'` is a `\u` escape with lowercase hex digits (`\u00e9`; characters above
//! U+FFFF as a UTF-16 surrogate pair, `\ud83e\udd80`), except `\b`, `\f`, `\n`, `\r`,
//! `\t`, `\"` and `\\`; floats as Python's `repr` writes them (shortest digits that read
//! back exactly; `1e+16`, `1e-05`, `-0.0`, `1.0`, `5e-324`); integers as their digits.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use zeroize::Zeroize;

use crate::entry::JsonObject;
use crate::error::{Error, ErrorKind, Result};

/// Which of Python's two forms [`python_json`] writes: py-key-value 0.5 writes entry
/// documents in the first and the Fernet wrapper's plaintext in the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// `json.dumps(value, sort_keys=True)`: `", "` / `": "` separators, every object's
    /// keys sorted by code point (py-key-value's entry documents).
    Sorted,
    /// `json.dumps(value, separators=(",", ":"))`: no spaces, keys in insertion order
    /// (py-key-value's Fernet plaintext).
    Compact,
}

/// `value` as Python's `json.dumps` writes it in `style`: the separators of the style,
/// every character outside `' '..='~'` as a `\u` escape (a surrogate pair above
/// U+FFFF), floats as Python's `repr` (`1e+16`, `1e-07`, `-0.0`, `1.0`).
///
/// ```
/// use key_value_core::{JsonStyle, python_json};
/// use serde_json::json;
///
/// let value = json!({"b": 1.0, "a": ["é", 1e16, 1e-7]}).as_object().cloned().unwrap_or_default();
/// assert_eq!(
///     python_json(&value, JsonStyle::Sorted)?,
///     r#"{"a": ["\u00e9", 1e+16, 1e-07], "b": 1.0}"#
/// );
/// assert_eq!(
///     python_json(&value, JsonStyle::Compact)?,
///     r#"{"b":1.0,"a":["\u00e9",1e+16,1e-07]}"#
/// );
/// # Ok::<(), key_value_core::Error>(())
/// ```
///
/// Errors: an [`ErrorKind::Serialization`] error, which a `Value` (finite numbers,
/// string keys) never causes in practice.
pub fn python_json(value: &JsonObject, style: JsonStyle) -> Result<String> {
    let mut writer = PythonWriter {
        out: Out(String::with_capacity(text_len(value))),
        style,
        float: Vec::new(),
    };
    writer.object(value)?;
    Ok(std::mem::take(&mut writer.out.0))
}

/// About how long `value`'s JSON is, escapes and spaces aside: the writer's first
/// allocation, so that a value of long strings is not copied as its text grows.
fn text_len(value: &JsonObject) -> usize {
    fn of(value: &Value) -> usize {
        match value {
            Value::String(text) => text.len() + 2,
            Value::Array(items) => items.iter().map(|item| of(item) + 1).sum::<usize>() + 2,
            Value::Object(object) => text_len(object),
            Value::Null | Value::Bool(_) | Value::Number(_) => 4,
        }
    }
    value
        .iter()
        .map(|(key, value)| key.len() + 4 + of(value))
        .sum::<usize>()
        + 2
}

/// Writes a [`JsonObject`] as [`python_json`] does, straight from the tree: each string
/// is looked at once, many bytes at a time where nothing needs escaping (serde_json's
/// serializer looks at each byte, and a formatter would look again). Writes the same
/// bytes as [`write_python_json`] with [`PythonFormatter`] (the tests compare them).
struct PythonWriter {
    out: Out,
    style: JsonStyle,
    /// A float's text, before it joins `out`.
    float: Vec<u8>,
}

impl Drop for PythonWriter {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.float));
    }
}

/// The writer's text. It grows by copying into a larger allocation and zeroing the old
/// one, so that the JSON of a secret value (a Fernet plaintext, whose final buffer its
/// owner zeroes) leaves no copy behind in freed memory.
struct Out(String);

impl Out {
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    fn push_str(&mut self, text: &str) {
        if self.0.capacity() - self.0.len() < text.len() {
            let wanted = (self.0.capacity() * 2).max(self.0.len() + text.len());
            let mut grown = String::with_capacity(wanted);
            grown.push_str(&self.0);
            wipe(std::mem::replace(&mut self.0, grown).into_bytes());
        }
        self.0.push_str(text);
    }
}

impl std::fmt::Write for Out {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.push_str(text);
        Ok(())
    }
}

/// Zeroes a buffer's whole allocation before it is freed.
fn wipe(mut bytes: Vec<u8>) {
    bytes.clear();
    bytes.spare_capacity_mut().zeroize();
}

impl PythonWriter {
    fn object(&mut self, object: &JsonObject) -> Result<()> {
        self.out.push('{');
        match self.style {
            JsonStyle::Compact => {
                for (at, (key, value)) in object.iter().enumerate() {
                    self.field(at == 0, key, value)?;
                }
            }
            JsonStyle::Sorted => {
                let mut fields: Vec<(&String, &Value)> = object.iter().collect();
                fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (at, (key, value)) in fields.into_iter().enumerate() {
                    self.field(at == 0, key, value)?;
                }
            }
        }
        self.out.push('}');
        Ok(())
    }

    fn field(&mut self, first: bool, key: &str, value: &Value) -> Result<()> {
        if !first {
            self.separator();
        }
        self.string(key);
        self.out.push_str(match self.style {
            JsonStyle::Sorted => ": ",
            JsonStyle::Compact => ":",
        });
        self.value(value)
    }

    fn separator(&mut self) {
        self.out.push_str(match self.style {
            JsonStyle::Sorted => ", ",
            JsonStyle::Compact => ",",
        });
    }

    fn value(&mut self, value: &Value) -> Result<()> {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => self.number(n)?,
            Value::String(text) => self.string(text),
            Value::Array(items) => {
                self.out.push('[');
                for (at, item) in items.iter().enumerate() {
                    if at > 0 {
                        self.separator();
                    }
                    self.value(item)?;
                }
                self.out.push(']');
            }
            Value::Object(object) => self.object(object)?,
        }
        Ok(())
    }

    fn number(&mut self, n: &serde_json::Number) -> Result<()> {
        use std::fmt::Write as _;
        let written = if let Some(n) = n.as_u64() {
            write!(self.out, "{n}")
        } else if let Some(n) = n.as_i64() {
            write!(self.out, "{n}")
        } else {
            let n = n.as_f64().unwrap_or(f64::NAN);
            self.float.clear();
            write_python_float(&mut self.float, n).map_err(unwritable)?;
            self.out
                .push_str(std::str::from_utf8(&self.float).map_err(unwritable)?);
            Ok(())
        };
        written.map_err(unwritable)
    }

    /// A string, quoted and escaped as Python's `json.dumps` (`ensure_ascii=True`).
    fn string(&mut self, text: &str) {
        self.out.push('"');
        let mut rest = text;
        while !rest.is_empty() {
            let plain = plain_prefix(rest.as_bytes());
            // Plain bytes are ASCII, so `plain` is a character boundary.
            let (head, tail) = rest.split_at(plain);
            self.out.push_str(head);
            let mut chars = tail.chars();
            let Some(c) = chars.next() else {
                break;
            };
            rest = chars.as_str();
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.out.push_str("\\u");
                        for shift in [12, 8, 4, 0] {
                            let digit = (*unit >> shift) & 0xf;
                            self.out
                                .push(char::from(b"0123456789abcdef"[usize::from(digit)]));
                        }
                    }
                }
            }
        }
        self.out.push('"');
    }
}

/// Whether Python writes `b` as it is in a string: printable ASCII but `"` and `\`.
fn is_plain(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'
}

/// How many bytes at the start of `bytes` Python writes as they are. Checked in blocks
/// without an early exit inside a block, so that the compiler can vectorize it.
fn plain_prefix(bytes: &[u8]) -> usize {
    let mut plain = 0;
    for block in bytes.chunks(32) {
        if block.iter().fold(true, |all, &b| all & is_plain(b)) {
            plain += block.len();
        } else {
            return plain + block.iter().take_while(|&&b| is_plain(b)).count();
        }
    }
    plain
}

fn unwritable<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::new(
        ErrorKind::Serialization,
        "could not encode JSON as Python does",
    )
    .with_source(e)
}

/// `value` written with Python's separators, escapes and floats for `style`, its maps in
/// the order `value` serializes them (wrap it in [`SortedValue`] to sort them).
pub(crate) fn write_python_json<T: Serialize + ?Sized>(
    value: &T,
    style: JsonStyle,
) -> Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, PythonFormatter { style });
    value.serialize(&mut serializer).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            "could not encode JSON as Python does",
        )
        .with_source(e)
    })?;
    // Every byte written is ASCII.
    String::from_utf8(out).map_err(|e| {
        Error::new(
            ErrorKind::Serialization,
            "could not encode JSON as Python does",
        )
        .with_source(e)
    })
}

/// A `serde_json` formatter with Python's separators, `\u` escapes and float `repr`.
struct PythonFormatter {
    style: JsonStyle,
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        write_python_float(writer, f64::from(value))
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write_python_float(writer, value)
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json hands over runs without `"`, `\` or C0 controls; Python also escapes
        // DEL and everything outside ASCII.
        if is_printable_ascii(fragment.as_bytes()) {
            // The common case, checked many bytes at a time.
            return writer.write_all(fragment.as_bytes());
        }
        let mut plain_from = 0;
        for (at, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[plain_from..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            plain_from = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[plain_from..])
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(self.item_separator())
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(self.item_separator())
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(match self.style {
            JsonStyle::Sorted => b": ",
            JsonStyle::Compact => b":",
        })
    }
}

/// Whether every byte is in `' '..='~'`, which Python writes as it is. Checked in
/// blocks without an early exit inside a block, so that the compiler can vectorize it.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|block| {
        block
            .iter()
            .fold(true, |printable, &b| printable & (b' '..=b'~').contains(&b))
    })
}

impl PythonFormatter {
    fn item_separator(&self) -> &'static [u8] {
        match self.style {
            JsonStyle::Sorted => b", ",
            JsonStyle::Compact => b",",
        }
    }
}

/// Writes `value` as Python's `float.__repr__` does: the shortest digits that read back
/// exactly, in positional notation when the decimal exponent is in `-4..16` (with `.0`
/// when there is no fraction), else as `d[.ddd]e±XX` with at least two exponent digits.
/// Non-finite values (which a JSON `Value` never holds) are written as Python's
/// `Infinity`, `-Infinity` and `NaN`.
fn write_python_float<W: ?Sized + Write>(writer: &mut W, value: f64) -> io::Result<()> {
    if value.is_nan() {
        return writer.write_all(b"NaN");
    }
    if value.is_infinite() {
        return writer.write_all(if value > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        });
    }
    if value.is_sign_negative() {
        writer.write_all(b"-")?;
    }
    // Rust's `{:e}` writes the shortest round-tripping digits too: `d[.ddd]eN`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .ok_or_else(|| io::Error::other("unexpected float format"))?;
    let exponent: i32 = exponent
        .parse()
        .map_err(|_| io::Error::other("unexpected float exponent"))?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        // `decpt`: how many digits stand before the decimal point.
        let decpt = exponent + 1;
        if decpt <= 0 {
            writer.write_all(b"0.")?;
            for _ in 0..-decpt {
                writer.write_all(b"0")?;
            }
            writer.write_all(digits.as_bytes())
        } else {
            let decpt = decpt.unsigned_abs() as usize;
            if decpt >= digits.len() {
                writer.write_all(digits.as_bytes())?;
                for _ in digits.len()..decpt {
                    writer.write_all(b"0")?;
                }
                writer.write_all(b".0")
            } else {
                writer.write_all(&digits.as_bytes()[..decpt])?;
                writer.write_all(b".")?;
                writer.write_all(&digits.as_bytes()[decpt..])
            }
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        write!(writer, "{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

/// A value written with every object's keys sorted by code point, at every depth
/// (Python's `sort_keys=True`; Rust's `str` order is code point order).
pub(crate) struct SortedValue<'a>(pub(crate) &'a Value);

impl Serialize for SortedValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => SortedObject(map).serialize(serializer),
            Value::Array(items) => serializer.collect_seq(items.iter().map(SortedValue)),
            other => other.serialize(serializer),
        }
    }
}

/// An object written as [`SortedValue`] writes it.
pub(crate) struct SortedObject<'a>(pub(crate) &'a JsonObject);

impl Serialize for SortedObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            out.serialize_entry(key, &SortedValue(value))?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap_or_default()
    }

    // Every expected text below is what CPython 3.11's `json.dumps` printed for the
    // same input.

    #[test]
    fn floats_are_written_as_python_repr() {
        let numbers = json!([
            1e16,
            1e15,
            1e-7,
            1e-5,
            1e-4,
            0.0001234,
            -0.0,
            0.0,
            1.0,
            0.1,
            5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            123456789012345680.0,
            1234567890123456.7,
            12345.678,
            1e22,
            -1.5e-10,
            9223372036854775807i64,
            -9223372036854775808i64,
            18446744073709551615u64,
            100.0,
            9999999999999998.0
        ]);
        let text = python_json(&object(json!({ "n": numbers })), JsonStyle::Sorted).unwrap();
        assert_eq!(
            text,
            "{\"n\": [1e+16, 1000000000000000.0, 1e-07, 1e-05, 0.0001, 0.0001234, -0.0, 0.0, \
             1.0, 0.1, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e+308, \
             1.2345678901234568e+17, 1234567890123456.8, 12345.678, 1e+22, -1.5e-10, \
             9223372036854775807, -9223372036854775808, 18446744073709551615, 100.0, \
             9999999999999998.0]}"
        );
    }

    #[test]
    fn sorted_style_sorts_every_level_and_escapes_as_python() {
        let value = object(json!({
            "b": 1,
            "a": {"z": "é\u{7f}\u{1}\u{8}\u{c}\n\r\t\"\\/🦀", "y": []},
            "c": {}
        }));
        assert_eq!(
            python_json(&value, JsonStyle::Sorted).unwrap(),
            r#"{"a": {"y": [], "z": "\u00e9\u007f\u0001\b\f\n\r\t\"\\/\ud83e\udd80"}, "b": 1, "c": {}}"#
        );
    }

    #[test]
    fn compact_style_keeps_insertion_order() {
        let value = object(json!({"b": 1, "a": {"z": "é🦀", "y": [1, {}]}}));
        assert_eq!(
            python_json(&value, JsonStyle::Compact).unwrap(),
            r#"{"b":1,"a":{"z":"\u00e9\ud83e\udd80","y":[1,{}]}}"#
        );
    }

    #[test]
    fn the_writer_writes_what_the_formatter_writes() {
        // Every character that is escaped, around the writer's 32-byte blocks.
        let mut specials: String = (0u8..0x80).map(char::from).collect();
        specials.push_str("é\u{7ff}\u{ffff}🦀\u{10ffff}");
        let mut strings = vec![String::new(), specials.clone()];
        for at in [0, 1, 31, 32, 33, 63, 64, 65, 100] {
            for special in ['"', '\\', '\n', '\u{1}', '\u{7f}', 'é', '🦀'] {
                let mut text = "x".repeat(at);
                text.push(special);
                text.push_str(&"y".repeat(40));
                strings.push(text);
            }
        }
        let value = object(json!({
            "z": strings,
            "a": {"n": [null, true, false, 0, -1, u64::MAX, i64::MIN, 0.5, -0.0, 1e300]},
            "é": {},
            "": [[], {}],
            "long": "p".repeat(5000),
        }));
        for style in [JsonStyle::Compact, JsonStyle::Sorted] {
            let formatter = match style {
                JsonStyle::Compact => write_python_json(&value, style),
                JsonStyle::Sorted => write_python_json(&SortedObject(&value), style),
            };
            assert_eq!(python_json(&value, style).unwrap(), formatter.unwrap());
        }
    }

    #[test]
    fn every_float_reads_back_exactly() {
        let samples = [
            0.1,
            1.0 / 3.0,
            5e-324,
            1e-310,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e16,
            9.5e15,
            123.456e-20,
            -7e300,
            2.5,
        ];
        for x in samples {
            let mut text = Vec::new();
            write_python_float(&mut text, x).unwrap();
            let text = String::from_utf8(text).unwrap();
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
    }
}
