//! What the wrapper does with stored values it did not seal itself, its options, the
//! size limit, wrapping other stores, and what `Debug` and errors may show.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use key_value_core::{AsyncKeyValue, DEFAULT_COLLECTION, ErrorKind, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper, Keyring};
use key_value_memory::MemoryStore;
use serde_json::{Value, json};

/// A secret that must never appear in an error or `Debug` output.
const SECRET: &str = "s3cr3t-access-token-value";
const C: &str = "tokens";

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn secret_value() -> JsonObject {
    object(json!({"access_token": SECRET, "expires_in": 3600}))
}

fn new_key() -> FernetKey {
    FernetKey::generate().unwrap()
}

/// A wrapper over a memory store the test can also reach directly.
fn wrapper(key: FernetKey) -> (Arc<MemoryStore>, FernetWrapper<Arc<MemoryStore>>) {
    let inner = Arc::new(MemoryStore::new());
    (inner.clone(), FernetWrapper::new(inner, key))
}

async fn sealed(wrapper: &FernetWrapper<Arc<MemoryStore>>) -> JsonObject {
    wrapper
        .put("sealed", secret_value(), None, Some(C))
        .await
        .unwrap();
    wrapper
        .inner()
        .get("sealed", Some(C))
        .await
        .unwrap()
        .unwrap()
}

fn data(envelope: &JsonObject) -> String {
    envelope["__encrypted_data__"].as_str().unwrap().to_owned()
}

fn with_data(envelope: &JsonObject, data: impl Into<Value>) -> JsonObject {
    let mut envelope = envelope.clone();
    envelope.insert("__encrypted_data__".into(), data.into());
    envelope
}

/// Each way a stored value can be unopenable, as (name, stored value).
async fn bad_values(wrapper: &FernetWrapper<Arc<MemoryStore>>) -> Vec<(&'static str, JsonObject)> {
    let good = sealed(wrapper).await;
    let token = String::from_utf8(STANDARD.decode(data(&good)).unwrap()).unwrap();
    let raw = URL_SAFE.decode(&token).unwrap();

    let mut flipped = raw.clone();
    flipped[40] ^= 0x01; // in the ciphertext
    let tampered = STANDARD.encode(URL_SAFE.encode(&flipped));
    let truncated = STANDARD.encode(URL_SAFE.encode(&raw[..raw.len() - 10]));
    let half_text = STANDARD.encode(&token[..token.len() / 2]);

    let other_key = new_key();
    let other = FernetWrapper::new(Arc::new(MemoryStore::new()), other_key);
    let wrong_key = sealed(&other).await;

    let mut version_2 = good.clone();
    version_2.insert("__encryption_version__".into(), json!(2));
    let mut no_version = good.clone();
    no_version.remove("__encryption_version__");

    vec![
        ("wrong key", wrong_key),
        ("tampered token", with_data(&good, tampered)),
        ("truncated token", with_data(&good, truncated)),
        ("token text cut in half", with_data(&good, half_text)),
        ("bad base64", with_data(&good, "!!not base64!!")),
        (
            "base64 of garbage",
            with_data(&good, STANDARD.encode([0xff, 0x00, 0x80])),
        ),
        ("data not a string", with_data(&good, json!([1, 2]))),
        ("version 2", version_2),
        ("no version", no_version),
        ("plain value", secret_value()),
    ]
}

fn assert_clean_decryption_error(err: &key_value_core::Error, case: &str, key: &str, coll: &str) {
    assert_eq!(err.kind(), ErrorKind::Decryption, "{case}: {err}");
    assert_eq!(err.key(), Some(key), "{case}: {err}");
    assert_eq!(err.collection(), Some(coll), "{case}: {err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{case}: the value leaks: {shown}");
}

#[tokio::test]
async fn strict_by_default() {
    let key = new_key();
    let (inner, wrapper) = wrapper(key);
    for (case, stored) in bad_values(&wrapper).await {
        inner.put("bad", stored, None, Some(C)).await.unwrap();
        let err = wrapper.get("bad", Some(C)).await.unwrap_err();
        assert_clean_decryption_error(&err, case, "bad", C);
        let err = wrapper.ttl("bad", Some(C)).await.unwrap_err();
        assert_clean_decryption_error(&err, case, "bad", C);
        let err = wrapper
            .get_many(&["sealed", "bad"], Some(C))
            .await
            .unwrap_err();
        assert_clean_decryption_error(&err, case, "bad", C);
        let err = wrapper
            .ttl_many(&["bad", "sealed"], Some(C))
            .await
            .unwrap_err();
        assert_clean_decryption_error(&err, case, "bad", C);
        // The good entry beside it still reads.
        assert_eq!(
            wrapper.get("sealed", Some(C)).await.unwrap(),
            Some(secret_value())
        );
    }
}

#[tokio::test]
async fn errors_name_the_version_and_the_default_collection() {
    let key = new_key();
    let (inner, wrapper) = wrapper(key);
    let mut envelope = sealed(&wrapper).await;
    envelope.insert("__encryption_version__".into(), json!(7));
    inner.put("k", envelope, None, None).await.unwrap();
    let err = wrapper.get("k", None).await.unwrap_err();
    assert_clean_decryption_error(&err, "version 7", "k", DEFAULT_COLLECTION);
    assert!(err.to_string().contains("version 7"), "{err}");

    inner
        .put("plain", secret_value(), None, None)
        .await
        .unwrap();
    let err = wrapper.get("plain", None).await.unwrap_err();
    assert!(err.to_string().contains("not sealed"), "{err}");
}

#[tokio::test]
async fn missing_on_decryption_error_reads_bad_values_as_missing() {
    let key = new_key();
    let inner = Arc::new(MemoryStore::new());
    let lenient = FernetWrapper::builder(inner.clone(), key.clone())
        .missing_on_decryption_error(true)
        .build();
    let strict = FernetWrapper::new(inner.clone(), key);
    for (case, stored) in bad_values(&strict).await {
        inner.put("bad", stored, None, Some(C)).await.unwrap();
        assert_eq!(lenient.get("bad", Some(C)).await.unwrap(), None, "{case}");
        assert_eq!(lenient.ttl("bad", Some(C)).await.unwrap(), None, "{case}");
        assert_eq!(
            lenient.get_many(&["sealed", "bad"], Some(C)).await.unwrap(),
            vec![Some(secret_value()), None],
            "{case}"
        );
        let slots = lenient.ttl_many(&["bad", "sealed"], Some(C)).await.unwrap();
        assert!(slots[0].is_none() && slots[1].is_some(), "{case}");
    }
}

#[tokio::test]
async fn accept_plaintext_reads_plain_values_but_not_broken_envelopes() {
    let key = new_key();
    let inner = Arc::new(MemoryStore::new());
    let migrating = FernetWrapper::builder(inner.clone(), key.clone())
        .accept_plaintext(true)
        .build();
    let strict = FernetWrapper::new(inner.clone(), key);
    for (case, stored) in bad_values(&strict).await {
        inner
            .put("bad", stored.clone(), None, Some(C))
            .await
            .unwrap();
        let read = migrating.get("bad", Some(C)).await;
        if case == "plain value" {
            assert_eq!(read.unwrap(), Some(stored), "{case}");
        } else {
            assert_eq!(read.unwrap_err().kind(), ErrorKind::Decryption, "{case}");
        }
    }
    // New writes are still sealed.
    migrating
        .put("new", secret_value(), None, Some(C))
        .await
        .unwrap();
    let stored = inner.get("new", Some(C)).await.unwrap().unwrap();
    assert!(stored.contains_key("__encrypted_data__"));
    assert!(!serde_json::to_string(&stored).unwrap().contains(SECRET));
}

#[tokio::test]
async fn envelopes_have_py_key_value_shape() {
    let key = new_key();
    let (_, wrapper) = wrapper(key);
    let envelope = sealed(&wrapper).await;
    assert_eq!(envelope.len(), 2);
    assert_eq!(envelope["__encryption_version__"], json!(1));
    let token = String::from_utf8(STANDARD.decode(data(&envelope)).unwrap()).unwrap();
    assert!(token.starts_with("gAAAAA"), "a Fernet token: {token}");
    assert!(!serde_json::to_string(&envelope).unwrap().contains(SECRET));
}

#[tokio::test]
async fn size_limit_accounts_for_the_envelope() {
    let key = new_key();
    let mut shaped = common::Shaped::new(MemoryStore::new());
    shaped.limit = Some(10_000);
    let wrapper = FernetWrapper::new(shaped, key);
    let limit = wrapper.capabilities().max_entry_bytes.unwrap();
    assert!(
        limit < 10_000 * 3 / 4 && limit > 10_000 / 2,
        "limit {limit}"
    );

    // `{"b":"…"}` is 8 bytes around the text: fill the limit exactly, then one more.
    let fits = object(json!({"b": "x".repeat(limit - 8)}));
    wrapper.put("k", fits.clone(), None, None).await.unwrap();
    assert_eq!(wrapper.get("k", None).await.unwrap(), Some(fits));
    let over = object(json!({"b": "x".repeat(limit - 7)}));
    let err = wrapper
        .put("k", over.clone(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    assert!(err.to_string().contains(&limit.to_string()), "{err}");
    let err = wrapper
        .put_many(&["a", "b"], vec![secret_value(), over], None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge);
    assert_eq!(err.key(), Some("b"));
    assert_eq!(wrapper.get("a", None).await.unwrap(), None);
}

#[tokio::test]
async fn mismatched_put_many_writes_nothing() {
    let key = new_key();
    let (inner, wrapper) = wrapper(key);
    let err = wrapper
        .put_many(&["a", "b"], vec![secret_value()], None, Some(C))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        inner.keys(Some(C), None).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn wraps_dyn_stores_and_other_wrappers() {
    let outer_key = new_key();
    let inner_key = new_key();
    let memory = Arc::new(MemoryStore::new());
    let dyn_store: Arc<dyn AsyncKeyValue> = memory.clone();
    let inner_wrapper: Arc<dyn AsyncKeyValue> = Arc::new(FernetWrapper::new(dyn_store, inner_key));
    let outer = FernetWrapper::new(inner_wrapper.clone(), outer_key);

    outer
        .put("k", secret_value(), Some(Duration::from_secs(60)), Some(C))
        .await
        .unwrap();
    let (value, left) = outer.ttl("k", Some(C)).await.unwrap().unwrap();
    assert_eq!(value, secret_value());
    assert!(left.is_some_and(|left| left <= Duration::from_secs(60)));
    // Each layer sees only the next one's envelope.
    let middle = inner_wrapper.get("k", Some(C)).await.unwrap().unwrap();
    assert!(middle.contains_key("__encrypted_data__"));
    let bottom = memory.get("k", Some(C)).await.unwrap().unwrap();
    assert!(bottom.contains_key("__encrypted_data__"));
    assert_ne!(middle, bottom);
    assert_eq!(
        outer.keys(Some(C), None).await.unwrap(),
        vec!["k".to_owned()]
    );
    assert!(outer.delete("k", Some(C)).await.unwrap());
}

#[tokio::test]
async fn debug_never_shows_keys_or_values() {
    let key = new_key();
    let other = new_key();
    let (text, other_text) = (key.to_base64(), other.to_base64());
    // (Password-derived keys are the same type; `python_interop.rs` checks one's Debug.)
    let keyring = Keyring::new([key.clone(), other]).unwrap();
    let builder = FernetWrapper::builder(MemoryStore::new(), keyring.clone())
        .missing_on_decryption_error(true);
    let shown = format!("{builder:?}");
    let wrapper = builder.build();
    wrapper.put("k", secret_value(), None, None).await.unwrap();
    let shown = format!(
        "{shown} {wrapper:?} {wrapper:#?} {key:?} {keyring:?} {keyring:#?} {:?}",
        wrapper.inner()
    );
    for secret in [text.as_str(), other_text.as_str(), &text[..12], SECRET] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    assert!(shown.contains("keys: 2"), "{shown}");
}
