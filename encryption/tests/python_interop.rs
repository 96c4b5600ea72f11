//! Interoperability with py-key-value's `FernetEncryptionWrapper`, both ways.
//!
//! Python's wrapper runs over its own in-process store (`SimpleStore`, a dict: the
//! venv has no `memory` extra, so `MemoryStore` cannot be imported), which Rust cannot
//! reach, so the two sides exchange the stored envelopes: Python seals values and
//! prints the envelopes its inner store holds, Rust plants them under its wrapper and
//! reads them; Rust seals values and Python plants the envelopes under its wrapper and
//! reads them. Both with a Fernet key and with a key derived from a password and salt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

/// Makes Python's wrapper from argv[1..4]: `key KEY -` or `password PASSWORD SALT`.
const PYTHON_WRAPPER: &str = r#"
import asyncio, json, sys
from cryptography.fernet import Fernet
from key_value.aio.stores.simple import SimpleStore as MemoryStore
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper

def wrapper(inner):
    mode, secret, salt = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "key":
        return FernetEncryptionWrapper(inner, fernet=Fernet(secret))
    return FernetEncryptionWrapper(inner, source_material=secret, salt=salt)
"#;

/// Seals the values of argv[4] (a JSON object of key -> value) in collection "c"; prints
/// the envelopes the inner store holds.
const PYTHON_SEAL: &str = r#"
async def main():
    inner = MemoryStore()
    store = wrapper(inner)
    out = {}
    for key, value in json.loads(sys.argv[4]).items():
        await store.put(key, value, collection="c")
        out[key] = await inner.get(key, collection="c")
    print(json.dumps(out))

asyncio.run(main())
"#;

/// Plants the envelopes of argv[4] in collection "c" of the inner store; prints what the
/// wrapper reads back.
const PYTHON_OPEN: &str = r#"
async def main():
    inner = MemoryStore()
    store = wrapper(inner)
    out = {}
    for key, envelope in json.loads(sys.argv[4]).items():
        await inner.put(key, envelope, collection="c")
        out[key] = await store.get(key, collection="c")
    print(json.dumps(out))

asyncio.run(main())
"#;

const PASSWORD: &str = "correct horse battery staple";
const SALT: &str = "key-value-rs interop salt";

fn values() -> JsonObject {
    let Value::Object(values) = json!({
        "token": {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
                  "scopes": ["read", "write"], "refresh_token": null},
        "unicode": {"text": "héllo wörld ✓ 🌍", "controls": "a\u{1}b\n\t\"\\", "nul": "a\u{0}b"},
        "numbers": {"max_u64": 18446744073709551615u64, "min_i64": -9223372036854775808i64,
                    "zero": 0, "float": 0.1, "big": 1e300, "small": -2.5e-300, "ok": true},
        "nested": {"a": {"b": {"c": [1, [2, [3, {"d": []}]]]}}},
        "empty": {},
        "reserved": {"__encrypted_data__": "not really", "__encryption_version__": 1},
    }) else {
        unreachable!()
    };
    values
}

fn run(test: &str, script: &str, mode: [&str; 3], payload: &JsonObject) -> Option<JsonObject> {
    let program = format!("{PYTHON_WRAPPER}{script}");
    let payload = serde_json::to_string(payload).unwrap();
    let args = [mode[0], mode[1], mode[2], payload.as_str()];
    let output = key_value_test_support::python::run(test, &program, &args)?;
    match serde_json::from_str(output.trim()) {
        Ok(Value::Object(out)) => Some(out),
        _ => panic!("{test}: Python printed something else: {output}"),
    }
}

/// Python seals, Rust opens.
async fn python_to_rust(test: &str, mode: [&str; 3], key: FernetKey) {
    python_to_rust_sealed_by(test, PYTHON_SEAL, mode, key).await;
}

/// Python seals with `script`, Rust opens; the envelopes Python made (`None` when
/// Python is unavailable and the test was skipped).
async fn python_to_rust_sealed_by(
    test: &str,
    script: &str,
    mode: [&str; 3],
    key: FernetKey,
) -> Option<JsonObject> {
    let envelopes = run(test, script, mode, &values())?;
    let inner = Arc::new(MemoryStore::new());
    let store = FernetWrapper::new(inner.clone(), key);
    for (name, expected) in values() {
        let Some(Value::Object(envelope)) = envelopes.get(&name) else {
            panic!("{test}: no envelope for {name}: {envelopes:?}");
        };
        assert_eq!(envelope.len(), 2, "{test}: {envelope:?}");
        assert_eq!(envelope["__encryption_version__"], json!(1));
        inner
            .put(&name, envelope.clone(), None, Some("c"))
            .await
            .unwrap();
        assert_eq!(
            store.get(&name, Some("c")).await.unwrap(),
            expected.as_object().cloned(),
            "{test}: {name}"
        );
    }
    Some(envelopes)
}

/// Rust seals, Python opens.
async fn rust_to_python(test: &str, mode: [&str; 3], key: FernetKey) {
    let inner = Arc::new(MemoryStore::new());
    let store = FernetWrapper::new(inner.clone(), key);
    let mut envelopes = JsonObject::new();
    for (name, value) in values() {
        let Value::Object(value) = value else {
            unreachable!()
        };
        store.put(&name, value, None, Some("c")).await.unwrap();
        let envelope = inner.get(&name, Some("c")).await.unwrap().unwrap();
        envelopes.insert(name, Value::Object(envelope));
    }
    let Some(opened) = run(test, PYTHON_OPEN, mode, &envelopes) else {
        return;
    };
    assert_eq!(opened, values(), "{test}");
}

#[tokio::test]
async fn fernet_key_both_ways() {
    // Python loads the key from its text form, as Rust exports it.
    let key = FernetKey::generate().unwrap();
    let text = key.to_base64();
    let mode = ["key", text.as_str(), "-"];
    python_to_rust("fernet_key_both_ways", mode, key.clone()).await;
    rust_to_python("fernet_key_both_ways", mode, key).await;
}

#[tokio::test]
async fn password_derived_key_both_ways() {
    // One derivation (about a second optimised, many more in a debug build).
    let key = FernetKey::derive_from_password(PASSWORD, SALT).unwrap();
    let shown = format!("{key:?} {key:#?}");
    assert_eq!(shown, "FernetKey(<redacted>) FernetKey(<redacted>)");
    let mode = ["password", PASSWORD, SALT];
    python_to_rust("password_derived_key_both_ways", mode, key.clone()).await;
    rust_to_python("password_derived_key_both_ways", mode, key).await;
}

/// A writer whose clock runs ahead: py-key-value opens tokens whatever their timestamp
/// (it passes no `ttl` to `Fernet.decrypt`), and so must we. (The `fernet` crate, which
/// this crate used before, refused tokens stamped over a minute in the future.)
#[tokio::test]
async fn python_writer_with_a_clock_an_hour_ahead() {
    let key = FernetKey::generate().unwrap();
    let text = key.to_base64();
    let ahead = format!(
        "import time\n_real_time = time.time\ntime.time = lambda: _real_time() + 3600\n{PYTHON_SEAL}"
    );
    let mode = ["key", text.as_str(), "-"];
    let test = "python_writer_with_a_clock_an_hour_ahead";
    let Some(envelopes) = python_to_rust_sealed_by(test, &ahead, mode, key).await else {
        return;
    };
    // The tokens really are stamped ahead: bytes 1..9 of the token are its timestamp.
    let data = envelopes["token"]["__encrypted_data__"].as_str().unwrap();
    let token = STANDARD.decode(data).unwrap();
    let token = URL_SAFE.decode(token).unwrap();
    let stamp = u64::from_be_bytes(token[1..9].try_into().unwrap());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(stamp > now + 3000, "stamped {stamp}, now {now}");
}

#[tokio::test]
async fn python_refuses_a_wrong_key_too() {
    // A check that the exchange is not vacuous: Python with another key cannot open
    // what Rust sealed.
    const TEST: &str = "python_refuses_a_wrong_key_too";
    let store = FernetWrapper::new(Arc::new(MemoryStore::new()), FernetKey::generate().unwrap());
    let value = json!({"a": 1}).as_object().cloned().unwrap();
    store.put("k", value, None, Some("c")).await.unwrap();
    let envelope = store.inner().get("k", Some("c")).await.unwrap().unwrap();
    let mut envelopes = JsonObject::new();
    envelopes.insert("k".into(), Value::Object(envelope));
    let other = FernetKey::generate().unwrap().to_base64();
    let script = format!(
        "{PYTHON_WRAPPER}{}",
        r#"
from key_value.aio.errors import DecryptionError
async def main():
    inner = MemoryStore()
    store = wrapper(inner)
    for key, envelope in json.loads(sys.argv[4]).items():
        await inner.put(key, envelope, collection="c")
        try:
            await store.get(key, collection="c")
            print("opened")
        except DecryptionError:
            print("refused")

asyncio.run(main())
"#
    );
    let payload = serde_json::to_string(&envelopes).unwrap();
    let args = ["key", other.as_str(), "-", payload.as_str()];
    if let Some(output) = key_value_test_support::python::run(TEST, &script, &args) {
        assert_eq!(output.trim(), "refused");
    }
}
