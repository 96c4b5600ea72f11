//! Property tests over the decrypt path: whatever the inner store holds (random
//! objects, random envelopes, valid envelopes mutated in every layer), reading it never
//! panics, and either yields exactly the value that was sealed or fails with a
//! `Decryption` error (or reads as missing when the wrapper is told to).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject};
use key_value_fernet::{FernetKey, FernetWrapper, Keyring};
use key_value_memory::MemoryStore;
use proptest::prelude::*;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

struct World {
    runtime: Runtime,
    inner: Arc<MemoryStore>,
    strict: FernetWrapper<Arc<MemoryStore>>,
    lenient: FernetWrapper<Arc<MemoryStore>>,
    migrating: FernetWrapper<Arc<MemoryStore>>,
}

/// One store and three wrappers with the same two keys, shared by every case.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let key = || FernetKey::generate().unwrap();
        let keys = Keyring::new([key(), key()]).unwrap();
        let inner = Arc::new(MemoryStore::new());
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            strict: FernetWrapper::new(inner.clone(), keys.clone()),
            lenient: FernetWrapper::builder(inner.clone(), keys.clone())
                .missing_on_decryption_error(true)
                .build(),
            migrating: FernetWrapper::builder(inner.clone(), keys)
                .accept_plaintext(true)
                .build(),
            inner,
        }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = JsonObject> {
    prop::collection::btree_map(".{0,10}", json_value(), 0..6)
        .prop_map(|m| m.into_iter().collect::<Map<String, Value>>())
}

/// Random stored objects that look more or less like envelopes.
fn envelope_like() -> impl Strategy<Value = JsonObject> {
    let data = prop_oneof![
        ".{0,80}".prop_map(Value::from),
        "[A-Za-z0-9+/]{0,200}={0,2}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..160)
            .prop_map(|raw| Value::from(STANDARD.encode(URL_SAFE.encode(raw)))),
        prop::collection::vec(any::<u8>(), 0..160).prop_map(|mut raw| {
            if let Some(first) = raw.first_mut() {
                *first = 0x80; // a Fernet version byte, to get past the first check
            }
            Value::from(STANDARD.encode(URL_SAFE.encode(raw)))
        }),
        json_value(),
    ];
    let version = prop_oneof![Just(Value::from(1)), json_value()];
    (data, version, json_object()).prop_map(|(data, version, mut extra)| {
        extra.insert("__encrypted_data__".into(), data);
        extra.insert("__encryption_version__".into(), version);
        extra
    })
}

/// One way to damage a sealed envelope, at one of its three layers.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace a character of the outer (standard base64) text.
    OuterChar(usize, char),
    /// Cut the outer text.
    OuterTruncate(usize),
    /// Replace a character of the Fernet token text, re-encoding the outer layer.
    TokenChar(usize, char),
    /// Flip bits of one byte of the raw token (version, time, IV, ciphertext or MAC).
    RawBits(usize, u8),
    /// Cut the raw token.
    RawTruncate(usize),
    /// Append bytes to the raw token.
    RawAppend(Vec<u8>),
    /// Replace the version field.
    Version(Value),
    /// Drop one of the two fields.
    DropField(bool),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::OuterChar(i, c)),
        any::<usize>().prop_map(Mutation::OuterTruncate),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::TokenChar(i, c)),
        (any::<usize>(), 1u8..).prop_map(|(i, bits)| Mutation::RawBits(i, bits)),
        any::<usize>().prop_map(Mutation::RawTruncate),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::RawAppend),
        json_value().prop_map(Mutation::Version),
        any::<bool>().prop_map(Mutation::DropField),
    ]
}

fn replace_char(text: &str, index: usize, with: char) -> String {
    let chars: Vec<char> = text.chars().collect();
    let index = index % chars.len().max(1);
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i == index { with } else { c })
        .collect()
}

fn apply(envelope: &JsonObject, mutation: &Mutation) -> JsonObject {
    let mut envelope = envelope.clone();
    let outer = envelope["__encrypted_data__"].as_str().unwrap().to_owned();
    let token = String::from_utf8(STANDARD.decode(&outer).unwrap()).unwrap();
    let mut raw = URL_SAFE.decode(&token).unwrap();
    let data = match mutation {
        Mutation::OuterChar(i, c) => replace_char(&outer, *i, *c),
        Mutation::OuterTruncate(n) => outer[..n % outer.len()].to_owned(),
        Mutation::TokenChar(i, c) => STANDARD.encode(replace_char(&token, *i, *c)),
        Mutation::RawBits(i, bits) => {
            let i = i % raw.len();
            raw[i] ^= bits;
            STANDARD.encode(URL_SAFE.encode(&raw))
        }
        Mutation::RawTruncate(n) => STANDARD.encode(URL_SAFE.encode(&raw[..n % raw.len()])),
        Mutation::RawAppend(more) => {
            raw.extend_from_slice(more);
            STANDARD.encode(URL_SAFE.encode(&raw))
        }
        Mutation::Version(v) => {
            envelope.insert("__encryption_version__".into(), v.clone());
            outer
        }
        Mutation::DropField(data) => {
            let field = if *data {
                "__encrypted_data__"
            } else {
                "__encryption_version__"
            };
            envelope.remove(field);
            return envelope;
        }
    };
    envelope.insert("__encrypted_data__".into(), Value::from(data));
    envelope
}

/// Plants `stored` in `collection` (one per test: the tests run at once) and reads it through each wrapper; checks the outcome is allowed.
fn check_read(
    collection: &str,
    stored: JsonObject,
    sealed: Option<&JsonObject>,
) -> Result<(), TestCaseError> {
    let w = world();
    w.runtime.block_on(async {
        let c = Some(collection);
        w.inner.put("k", stored.clone(), None, c).await.unwrap();
        let strict = w.strict.get("k", c).await;
        let lenient = w.lenient.get("k", c).await;
        let migrating = w.migrating.get("k", c).await;
        let ttl = w.strict.ttl("k", c).await;
        match (&strict, sealed) {
            // An unchanged token (a mutation that changed nothing) opens to its value.
            (Ok(Some(value)), Some(original)) => prop_assert_eq!(value, original),
            (Err(e), _) => {
                prop_assert_eq!(e.kind(), ErrorKind::Decryption, "{}", e);
                prop_assert_eq!(e.key(), Some("k"));
                prop_assert!(
                    lenient.as_ref().is_ok_and(Option::is_none),
                    "lenient: {:?}",
                    lenient
                );
                prop_assert_eq!(ttl.map_err(|e| e.kind()).err(), Some(ErrorKind::Decryption));
            }
            (other, _) => prop_assert!(false, "strict read of a bad value gave {:?}", other),
        }
        if stored.contains_key("__encrypted_data__") {
            prop_assert_eq!(
                migrating.map_err(|e| e.kind()),
                strict.map_err(|e| e.kind())
            );
        } else {
            prop_assert_eq!(migrating.unwrap(), Some(stored));
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn values_round_trip(value in json_object()) {
        let w = world();
        let read = w.runtime.block_on(async {
            w.strict.put("rt", value.clone(), None, Some("sealing")).await.unwrap();
            w.strict.get("rt", Some("sealing")).await.unwrap()
        });
        prop_assert_eq!(read, Some(value));
    }

    #[test]
    fn random_stored_objects_never_open(stored in json_object()) {
        check_read("objects", stored, None)?;
    }

    #[test]
    fn random_envelopes_never_open(stored in envelope_like()) {
        check_read("envelopes", stored, None)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_envelopes_never_open_wrongly(value in json_object(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let w = world();
        let sealed = w.runtime.block_on(async {
            w.strict.put("m", value.clone(), None, Some("sealing")).await.unwrap();
            w.inner.get("m", Some("sealing")).await.unwrap().unwrap()
        });
        let mut stored = sealed;
        for mutation in &mutations {
            if !stored.get("__encrypted_data__").and_then(Value::as_str).is_some_and(|data| {
                STANDARD.decode(data).ok().and_then(|t| String::from_utf8(t).ok())
                    .is_some_and(|t| URL_SAFE.decode(t).is_ok_and(|raw| !raw.is_empty()))
            }) {
                break; // already broken beyond the layers the next mutation works on
            }
            stored = apply(&stored, mutation);
        }
        check_read("mutated", stored, Some(&value))?;
    }
}
