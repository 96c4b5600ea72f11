//! The Fernet specification's test vectors (`tests/data/fernet/`, see `SOURCE.md` there
//! for their origin and licence), run through the keyring and envelope code the wrapper
//! uses. They live in the library's unit tests because fixing the clock needs the
//! keyring's test-only entry points.
//!
//! The `generate` vectors are reproduced byte for byte (the vector's key, time and IV
//! make its token), and each expected token opens to its source.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, parse_timestamp};
use serde_json::{Value, json};

use crate::{FernetKey, FernetWrapper, Keyring};
use crate::{envelope, token};

fn vectors(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fernet")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let Value::Array(vectors) = serde_json::from_str(&text).unwrap() else {
        panic!("{name} is not a JSON array");
    };
    assert!(!vectors.is_empty(), "{name} has no vectors");
    vectors
}

fn text<'a>(vector: &'a Value, field: &str) -> &'a str {
    vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector without `{field}`: {vector}"))
}

fn keyring(vector: &Value) -> Keyring {
    FernetKey::from_base64(text(vector, "secret"))
        .unwrap()
        .into()
}

fn now(vector: &Value) -> u64 {
    parse_timestamp(text(vector, "now"))
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The envelope py-key-value would store around `token`.
fn envelope_around(token: &str) -> JsonObject {
    let Value::Object(envelope) = json!({
        envelope::DATA_FIELD: STANDARD.encode(token),
        envelope::VERSION_FIELD: envelope::ENCRYPTION_VERSION,
    }) else {
        unreachable!()
    };
    envelope
}

#[test]
fn generate_vectors() {
    for vector in vectors("generate.json") {
        let keys = keyring(&vector);
        let (token, src, now) = (text(&vector, "token"), text(&vector, "src"), now(&vector));
        let iv: Vec<u8> = serde_json::from_value(vector["iv"].clone()).unwrap();

        let (plaintext, _) = keys.open(token.as_bytes().to_vec()).expect("vector token");
        assert_eq!(&*plaintext, src.as_bytes());

        let iv = iv.try_into().expect("a 16-byte IV");
        let made = token::to_text(&keys.seal_at(src.as_bytes(), now, iv));
        assert_eq!(made, token, "the vector's token, byte for byte");
    }
}

#[test]
fn verify_vectors() {
    for vector in vectors("verify.json") {
        let keys = keyring(&vector);
        let (token, src, now) = (text(&vector, "token"), text(&vector, "src"), now(&vector));
        let ttl = vector["ttl_sec"].as_u64().unwrap();

        let (plaintext, _) = keys.open_at(token, ttl, now).expect("at its time");
        assert_eq!(&*plaintext, src.as_bytes());

        // The wrapper's own path: unwrap the envelope, open with the live clock (the
        // wrapper sets no token lifetime, so a token from 1985 still opens).
        let unwrapped = envelope::token_of(&mut envelope_around(token))
            .ok()
            .unwrap();
        assert_eq!(unwrapped, token.as_bytes());
        let (plaintext, _) = keys.open(unwrapped).expect("through the envelope");
        assert_eq!(&*plaintext, src.as_bytes());
    }
}

/// These two are refused only because of their time relative to `now` under a
/// lifetime; the wrapper, like py-key-value, checks no time, so it opens them (one is
/// stamped far in the future, the other has outlived its lifetime).
const TIME_DEPENDENT: [&str; 2] = ["far-future TS (unacceptable clock skew)", "expired TTL"];

#[test]
fn invalid_vectors() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for vector in vectors("invalid.json") {
        let keys = keyring(&vector);
        let (token, desc, now) = (text(&vector, "token"), text(&vector, "desc"), now(&vector));
        let ttl = vector["ttl_sec"].as_u64().unwrap();

        assert!(
            keys.open_at(token, ttl, now).is_none(),
            "{desc}: accepted at its time"
        );
        if TIME_DEPENDENT.contains(&desc) {
            let opened = keys.open(token.as_bytes().to_vec());
            assert!(opened.is_some(), "{desc}: refused without a lifetime");
            continue;
        }
        assert!(
            keys.open(token.as_bytes().to_vec()).is_none(),
            "{desc}: accepted now"
        );

        // And through the whole wrapper: a strict Decryption error naming the key.
        let inner = std::sync::Arc::new(key_value_memory::MemoryStore::new());
        let wrapper = FernetWrapper::new(inner.clone(), keys.clone());
        runtime.block_on(async {
            inner
                .put("k", envelope_around(token), None, Some("vectors"))
                .await
                .unwrap();
            let err = wrapper.get("k", Some("vectors")).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decryption, "{desc}: {err}");
            assert_eq!(err.key(), Some("k"));
            assert_eq!(err.collection(), Some("vectors"));
        });
    }
}
