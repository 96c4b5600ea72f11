//! Key rotation: several keys, and re-encrypting old entries with the newest key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper, Keyring};
use key_value_memory::MemoryStore;
use serde_json::json;

fn key() -> FernetKey {
    FernetKey::generate().unwrap()
}

fn value(i: usize) -> JsonObject {
    json!({"i": i, "token": format!("t-{i}")})
        .as_object()
        .cloned()
        .unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn rotate_then_reencrypt() {
    let (old, new) = (key(), key());
    let inner = Arc::new(MemoryStore::new());
    let before = FernetWrapper::new(inner.clone(), old.clone());
    // 250 entries in "a" (more than one re-encryption batch), half with a TTL; 3 in "b".
    for i in 0..250 {
        let ttl = (i % 2 == 0).then_some(HOUR);
        before
            .put(&format!("k{i}"), value(i), ttl, Some("a"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        before
            .put(&format!("k{i}"), value(i), None, Some("b"))
            .await
            .unwrap();
    }

    let rotated = FernetWrapper::new(inner.clone(), Keyring::new([new.clone(), old]).unwrap());
    let only_new = FernetWrapper::new(inner.clone(), new);
    // Encrypt with the first key, decrypt with any.
    assert_eq!(rotated.get("k7", Some("a")).await.unwrap(), Some(value(7)));
    rotated
        .put("fresh", value(999), None, Some("a"))
        .await
        .unwrap();
    assert_eq!(
        only_new.get("fresh", Some("a")).await.unwrap(),
        Some(value(999))
    );
    let err = only_new.get("k7", Some("a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decryption);

    // Only the entries sealed with the old key are rewritten, once.
    assert_eq!(rotated.reencrypt_collection(Some("a")).await.unwrap(), 250);
    assert_eq!(rotated.reencrypt_collection(Some("a")).await.unwrap(), 0);
    for i in 0..250 {
        let (read, left) = only_new
            .ttl(&format!("k{i}"), Some("a"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, value(i));
        if i % 2 == 0 {
            let left = left.expect("the TTL is kept");
            assert!(
                left <= HOUR && left > HOUR - Duration::from_secs(60),
                "{left:?}"
            );
        } else {
            assert_eq!(left, None, "no TTL stays no TTL");
        }
    }
    // The other collection is untouched until the whole store is re-encrypted.
    assert!(only_new.get("k0", Some("b")).await.is_err());
    assert_eq!(rotated.reencrypt_all().await.unwrap(), 3);
    assert_eq!(rotated.reencrypt_all().await.unwrap(), 0);
    assert_eq!(only_new.get("k2", Some("b")).await.unwrap(), Some(value(2)));
}

#[tokio::test]
async fn reencrypt_is_strict_unless_told_otherwise() {
    let (old, new, stranger) = (key(), key(), key());
    let inner = Arc::new(MemoryStore::new());
    FernetWrapper::new(inner.clone(), old.clone())
        .put("mine", value(1), None, Some("c"))
        .await
        .unwrap();
    FernetWrapper::new(inner.clone(), stranger)
        .put("theirs", value(2), None, Some("c"))
        .await
        .unwrap();
    inner.put("plain", value(3), None, Some("c")).await.unwrap();
    let keys = Keyring::new([new.clone(), old]).unwrap();
    // The order re-encryption meets the entries in: the memory store's, which no one
    // fixes (a hash table's, seeded per process).
    let order = inner.keys(Some("c"), None).await.unwrap();
    let position = |key: &str| order.iter().position(|k| k == key).unwrap();

    let err = FernetWrapper::new(inner.clone(), keys.clone())
        .reencrypt_collection(Some("c"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decryption);
    let stopped_at = err.key().unwrap().to_owned();
    assert!(matches!(stopped_at.as_str(), "theirs" | "plain"), "{err}");
    // Rewritten as it went: "mine" is under the new key exactly when it came first.
    let only_new = FernetWrapper::new(inner.clone(), new);
    let mine_rewritten = only_new.get("mine", Some("c")).await.is_ok();
    assert_eq!(
        mine_rewritten,
        position("mine") < position(&stopped_at),
        "order {order:?}, stopped at {stopped_at}"
    );

    // Lenient: skips what it cannot open; with plaintext accepted, seals plain values.
    let migrating = FernetWrapper::builder(inner.clone(), keys)
        .missing_on_decryption_error(true)
        .accept_plaintext(true)
        .build();
    // The two entries sealed with an old key or plain, less what the strict run did.
    assert_eq!(
        migrating.reencrypt_collection(Some("c")).await.unwrap(),
        2 - usize::from(mine_rewritten)
    );
    assert_eq!(
        only_new.get("mine", Some("c")).await.unwrap(),
        Some(value(1))
    );
    assert_eq!(
        only_new.get("plain", Some("c")).await.unwrap(),
        Some(value(3))
    );
    assert!(only_new.get("theirs", Some("c")).await.is_err());
}

#[tokio::test]
async fn reencrypt_needs_enumeration() {
    let mut shaped = common::Shaped::new(MemoryStore::new());
    shaped.listing = false;
    let wrapper = FernetWrapper::new(shaped, key());
    for result in [
        wrapper.reencrypt_collection(None).await,
        wrapper.reencrypt_all().await,
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("re-encrypt"), "{err}");
    }
    // The capability set says so too.
    let caps = wrapper.capabilities();
    assert!(!caps.list_keys && !caps.list_collections);
}
