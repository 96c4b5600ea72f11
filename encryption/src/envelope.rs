//! The stored form of a sealed value, shared with py-key-value's `FernetEncryptionWrapper`:
//!
//! ```json
//! {"__encrypted_data__": "<standard base64 of the Fernet token text>", "__encryption_version__": 1}
//! ```
//!
//! The plaintext is the value as py-key-value writes it,
//! `json.dumps(value, separators=(",", ":"))`: compact, object keys in insertion order,
//! ASCII `\u` escapes ([`JsonStyle::Compact`](key_value_core::JsonStyle)). The Fernet token is already
//! URL-safe base64 text; py-key-value base64-encodes it once more, with the standard
//! alphabet, and so do we.

use std::borrow::Cow;
use std::ops::{Deref, Range};

use base64_simd::STANDARD;
use key_value_core::{Error, ErrorKind, JsonObject, JsonStyle, Result, python_json};
use serde_json::Value;
use zeroize::Zeroize;

use crate::key::Keyring;
use crate::token;

/// The envelope field holding the doubly encoded Fernet token.
pub const DATA_FIELD: &str = "__encrypted_data__";
/// The envelope field holding the envelope version.
pub const VERSION_FIELD: &str = "__encryption_version__";
/// The envelope version this crate writes, and the only one it reads.
pub const ENCRYPTION_VERSION: u64 = 1;

/// Whether a stored value is a sealed envelope (has [`DATA_FIELD`]) rather than
/// plaintext.
pub fn is_sealed(stored: &JsonObject) -> bool {
    stored.contains_key(DATA_FIELD)
}

/// A stored value, opened.
pub(crate) struct Opened {
    pub(crate) value: JsonObject,
    /// The value was sealed with the newest key (so re-encryption can leave it alone).
    pub(crate) current: bool,
}

/// Why a stored value could not be opened. Says what is wrong with the envelope, never
/// what it holds.
pub(crate) struct Failure(pub(crate) Cow<'static, str>);

/// A value's plaintext bytes, zeroed when dropped: the whole allocation, in bulk
/// (`Zeroizing<Vec<u8>>` zeroes a vector's elements one volatile byte write at a time,
/// which showed in profiles of 64 KiB values). An opened token's plaintext is a range
/// of the buffer it was decrypted in.
pub(crate) struct Plaintext {
    buffer: Vec<u8>,
    range: Range<usize>,
}

impl Plaintext {
    pub(crate) fn new(buffer: Vec<u8>) -> Plaintext {
        let range = 0..buffer.len();
        Plaintext { buffer, range }
    }

    /// The whole buffer, to decrypt in place.
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        &mut self.buffer
    }

    /// The same buffer, its plaintext being `range` of it.
    pub(crate) fn narrowed(mut self, range: Range<usize>) -> Plaintext {
        self.range = range;
        self
    }
}

impl Deref for Plaintext {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buffer.get(self.range.clone()).unwrap_or_default()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        // Spare capacity then covers the whole allocation.
        self.buffer.clear();
        self.buffer.spare_capacity_mut().zeroize();
    }
}

/// The plaintext of `value`, byte for byte Python's
/// `json.dumps(value, separators=(",", ":"))`, in a buffer zeroed on drop.
pub(crate) fn plaintext(value: &JsonObject) -> Result<Plaintext> {
    python_json(value, JsonStyle::Compact)
        .map(|text| Plaintext::new(text.into_bytes()))
        .map_err(|e| {
            Error::new(ErrorKind::Encryption, "could not encode the value as JSON").with_source(e)
        })
}

/// Seals a plaintext (from [`plaintext`]) into an envelope with the keyring's newest
/// key. Fails only when the system's random source does
/// ([`ErrorKind::Encryption`]).
pub(crate) fn seal(plaintext: &[u8], keys: &Keyring) -> Result<JsonObject> {
    let token = token::to_text(&keys.seal(plaintext)?);
    let mut envelope = JsonObject::new();
    envelope.insert(
        DATA_FIELD.to_owned(),
        Value::String(STANDARD.encode_to_string(token)),
    );
    envelope.insert(VERSION_FIELD.to_owned(), Value::from(ENCRYPTION_VERSION));
    Ok(envelope)
}

/// Opens a stored value. A value without [`DATA_FIELD`] is plaintext: returned as it
/// is when `accept_plaintext`, refused otherwise.
pub(crate) fn open(
    mut stored: JsonObject,
    keys: &Keyring,
    accept_plaintext: bool,
) -> Result<Opened, Failure> {
    if !is_sealed(&stored) {
        if accept_plaintext {
            return Ok(Opened {
                value: stored,
                current: false,
            });
        }
        return Err(Failure(Cow::Borrowed(
            "the stored value is not sealed (it has no `__encrypted_data__` field), and \
             this wrapper does not accept plaintext values",
        )));
    }
    let token = token_of(&mut stored)?;
    let (plaintext, current) = keys.open(token).ok_or(Failure(Cow::Borrowed(
        "no key of the keyring opens the Fernet token (wrong key, or the token was \
         tampered with or truncated)",
    )))?;
    let value = parse_plaintext(&plaintext)?;
    Ok(Opened { value, current })
}

/// Checks the envelope's version and takes the Fernet token's text out of it, decoded in
/// the place of its base64 text (no copy: it is the largest piece of a stored value).
/// The text is not checked here: opening it decodes it as URL-safe base64.
pub(crate) fn token_of(envelope: &mut JsonObject) -> Result<Vec<u8>, Failure> {
    match envelope.get(VERSION_FIELD) {
        None => {
            return Err(Failure(Cow::Borrowed(
                "the envelope has no `__encryption_version__` field",
            )));
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(ENCRYPTION_VERSION) => {}
            Some(v) if v > ENCRYPTION_VERSION => {
                return Err(Failure(Cow::Owned(format!(
                    "the value was sealed with envelope version {v}, and this wrapper reads \
                     version {ENCRYPTION_VERSION}"
                ))));
            }
            _ => {
                return Err(Failure(Cow::Borrowed(
                    "the envelope's `__encryption_version__` is not 1",
                )));
            }
        },
        Some(_) => {
            return Err(Failure(Cow::Borrowed(
                "the envelope's `__encryption_version__` is not a number",
            )));
        }
    }
    let Some(Value::String(data)) = envelope.get_mut(DATA_FIELD) else {
        return Err(Failure(Cow::Borrowed(
            "the envelope's `__encrypted_data__` is not a string",
        )));
    };
    let mut token = std::mem::take(data).into_bytes();
    let decoded = STANDARD
        .decode_inplace(&mut token)
        .map_err(|_| {
            Failure(Cow::Borrowed(
                "the envelope's `__encrypted_data__` is not valid standard base64",
            ))
        })?
        .len();
    token.truncate(decoded);
    Ok(token)
}

/// The value a decrypted plaintext holds.
pub(crate) fn parse_plaintext(plaintext: &[u8]) -> Result<JsonObject, Failure> {
    match serde_json::from_slice::<Value>(plaintext) {
        Ok(Value::Object(value)) => Ok(value),
        Ok(_) => Err(Failure(Cow::Borrowed(
            "the decrypted value is not a JSON object",
        ))),
        Err(_) => Err(Failure(Cow::Borrowed(
            "the decrypted value is not valid JSON",
        ))),
    }
}

/// Fernet token bytes: version (1), timestamp (8), IV (16), HMAC (32); the PKCS#7
/// padded ciphertext comes on top.
const TOKEN_FIXED_BYTES: usize = 1 + 8 + 16 + 32;
/// The envelope's JSON around the encoded token, as it stands in an entry document
/// (py-key-value's `json.dumps(..., sort_keys=True)` separators).
const ENVELOPE_JSON_BYTES: usize =
    r#"{"__encrypted_data__": "", "__encryption_version__": 1}"#.len();

fn base64_len(bytes: usize) -> Option<usize> {
    bytes.div_ceil(3).checked_mul(4)
}

/// The length of the JSON envelope (as an entry document holds it) that seals a plaintext of `plaintext_len`
/// bytes (`None` on overflow).
pub(crate) fn envelope_len(plaintext_len: usize) -> Option<usize> {
    let ciphertext = (plaintext_len / 16).checked_add(1)?.checked_mul(16)?;
    let token = base64_len(ciphertext.checked_add(TOKEN_FIXED_BYTES)?)?;
    base64_len(token)?.checked_add(ENVELOPE_JSON_BYTES)
}

/// The largest plaintext whose envelope fits in `stored_limit` bytes.
pub(crate) fn max_plaintext(stored_limit: usize) -> usize {
    // `envelope_len` only grows with its input: find the last length that fits.
    let fits = |n: usize| envelope_len(n).is_some_and(|len| len <= stored_limit);
    if !fits(0) {
        return 0;
    }
    let (mut low, mut high) = (0usize, stored_limit);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if fits(mid) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

    use serde_json::json;

    use super::*;
    use crate::FernetKey;

    fn ring() -> Keyring {
        FernetKey::generate().unwrap().into()
    }

    #[test]
    fn envelope_len_is_exact() {
        let keys = ring();
        for n in (0..200).chain([1000, 1023, 1024, 1025, 65_536]) {
            let envelope = seal(&vec![b'x'; n], &keys).unwrap();
            let actual = python_json(&envelope, JsonStyle::Sorted).unwrap().len();
            assert_eq!(envelope_len(n), Some(actual), "plaintext of {n} bytes");
        }
    }

    #[test]
    fn max_plaintext_is_the_largest_that_fits() {
        for limit in [0, 100, 172, 173, 200, 1000, 4096, 400_000] {
            let n = max_plaintext(limit);
            if envelope_len(0).unwrap() > limit {
                assert_eq!(n, 0);
                continue;
            }
            assert!(envelope_len(n).unwrap() <= limit, "limit {limit}");
            assert!(envelope_len(n + 1).unwrap() > limit, "limit {limit}");
        }
        assert!(max_plaintext(usize::MAX) > 0);
    }

    #[test]
    fn envelope_is_compact_and_in_python_field_order() {
        let keys = ring();
        let text = python_json(&seal(b"{}", &keys).unwrap(), JsonStyle::Compact).unwrap();
        assert!(text.starts_with(r#"{"__encrypted_data__":""#), "{text}");
        assert!(text.ends_with(r#"","__encryption_version__":1}"#), "{text}");
    }

    #[test]
    fn plaintext_is_pythons_compact_json_in_insertion_order() {
        // What `json.dumps(value, separators=(",", ":"))` printed for the same dict.
        let value = json!({"b": [1, 2.0, -0.0, 1e16], "a": {"x": "é🦀", "\u{7f}": null}});
        let bytes = plaintext(value.as_object().unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"b":[1,2.0,-0.0,1e+16],"a":{"x":"\u00e9\ud83e\udd80","\u007f":null}}"#
        );
    }

    #[test]
    fn versions_other_than_one_are_refused() {
        let keys = ring();
        let mut envelope = seal(b"{}", &keys).unwrap();
        for (version, needle) in [
            (json!(2), "version 2"),
            (json!(0), "not 1"),
            (json!(-1), "not 1"),
            (json!(1.5), "not 1"),
            (json!("1"), "not a number"),
        ] {
            envelope.insert(VERSION_FIELD.into(), version);
            let Err(Failure(message)) = open(envelope.clone(), &keys, false) else {
                panic!("version accepted");
            };
            assert!(message.contains(needle), "{message}");
        }
    }
}
