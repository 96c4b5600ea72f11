//! py-key-value's `RedisStore` and this store share one Redis: entries written by either
//! are read by the other, values and TTLs alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::time::Duration;

use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_redis::redis_key;
use serde_json::{Value, json};

const TEST: &str = "key-value-redis python_interop";

fn object(value: Value) -> JsonObject {
    value.as_object().cloned().expect("an object")
}

fn sample(n: i64) -> JsonObject {
    object(json!({
        "n": n,
        "s": "é 🦀 \"quoted\" \\",
        "nested": {"list": [1, 2.5, null, true, {"deep": "x"}]},
        "big": u64::MAX,
        "small": i64::MIN,
    }))
}

/// Reads keys with py-key-value and prints `{key: [value, ttl]}` as JSON.
const PY_READ: &str = r#"
import asyncio, json, sys
from key_value.aio.stores.redis import RedisStore

async def main(url, collection, keys):
    store = RedisStore(url=url)
    out = {}
    for key in keys:
        value, ttl = await store.ttl(key, collection=collection)
        out[key] = [value, ttl]
    out["__many__"] = await store.get_many(keys, collection=collection)
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"#;

/// Writes entries with py-key-value: `py_plain` without TTL, `py_expiring` with 300 s,
/// and `py_many_0..2` in one `put_many` with 200 s.
const PY_WRITE: &str = r#"
import asyncio, sys
from key_value.aio.stores.redis import RedisStore

def sample(n):
    return {"n": n, "s": "é 🦀 \"quoted\" \\", "nested": {"list": [1, 2.5, None, True, {"deep": "x"}]},
            "big": 2**64 - 1, "small": -2**63}

async def main(url, collection):
    store = RedisStore(url=url)
    await store.put("py_plain", sample(1), collection=collection)
    await store.put("py_expiring", sample(2), collection=collection, ttl=300)
    await store.put_many(["py_many_0", "py_many_1", "py_many_2"], [sample(10), sample(11), sample(12)],
                         collection=collection, ttl=200)
    print("ok")

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn python_reads_what_rust_wrote() {
    let Some(target) = common::single_target() else {
        return;
    };
    runtime().block_on(async {
        let store = common::connect(target, false).await;
        let collection = format!("kvr-interop-r2p-{}", std::process::id());
        // Remaining lifetimes are checked against the time since the writes: Python's
        // start-up takes seconds, more on a loaded machine.
        let written = std::time::Instant::now();
        store
            .put("plain", sample(1), None, Some(&collection))
            .await
            .unwrap();
        store
            .put(
                "expiring",
                sample(2),
                Some(Duration::from_secs(300)),
                Some(&collection),
            )
            .await
            .unwrap();
        store
            .put_many(
                &["many_0", "many_1"],
                vec![sample(10), sample(11)],
                Some(Duration::from_secs(200)),
                Some(&collection),
            )
            .await
            .unwrap();

        let url = &target.urls()[0];
        let keys = ["plain", "expiring", "many_0", "many_1", "missing"];
        let mut args = vec![url.as_str(), collection.as_str()];
        args.extend(keys);
        let Some(output) = key_value_test_support::python::run(TEST, PY_READ, &args) else {
            return;
        };
        let read: Value = serde_json::from_str(output.trim()).expect("the script's JSON");
        // The least a ttl of `secs` may show now (less a millisecond for rounding).
        let at_least = |secs: f64| secs - written.elapsed().as_secs_f64() - 0.001;

        assert_eq!(read["plain"][0], Value::Object(sample(1)));
        assert_eq!(read["plain"][1], Value::Null, "an entry without expiry");
        assert_eq!(read["expiring"][0], Value::Object(sample(2)));
        let ttl = read["expiring"][1].as_f64().expect("a ttl");
        assert!(
            ttl >= at_least(300.0) && ttl <= 300.0,
            "ttl {ttl} seen by Python, {:?} after the write",
            written.elapsed()
        );
        for (key, n) in [("many_0", 10), ("many_1", 11)] {
            assert_eq!(read[key][0], Value::Object(sample(n)));
            let ttl = read[key][1].as_f64().expect("a ttl");
            assert!(
                ttl >= at_least(200.0) && ttl <= 200.0,
                "ttl {ttl} of {key} seen by Python, {:?} after the write",
                written.elapsed()
            );
        }
        assert_eq!(read["missing"], json!([null, null]));
        assert_eq!(
            read["__many__"],
            json!([sample(1), sample(2), sample(10), sample(11), null])
        );
        // The layout Python reads: `collection::key`, with a native expiry in milliseconds.
        let raw = common::Raw::connect(target, false).await;
        let stored = redis_key(&collection, "expiring");
        assert_eq!(stored, format!("{collection}::expiring"));
        let pttl = raw.pttl(&stored).await.unwrap();
        assert!(
            pttl as f64 >= at_least(300.0) * 1000.0 && pttl <= 300_000,
            "native expiry {pttl} ms, {:?} after the write",
            written.elapsed()
        );
        assert_eq!(
            raw.pttl(&redis_key(&collection, "plain")).await.unwrap(),
            -1
        );
        store.destroy_collection(&collection).await.unwrap();
    });
}

#[test]
fn rust_reads_what_python_wrote() {
    let Some(target) = common::single_target() else {
        return;
    };
    runtime().block_on(async {
        let collection = format!("kvr-interop-p2r-{}", std::process::id());
        let url = &target.urls()[0];
        let Some(output) = key_value_test_support::python::run(
            TEST,
            PY_WRITE,
            &[url.as_str(), collection.as_str()],
        ) else {
            return;
        };
        assert_eq!(output.trim(), "ok");

        let store = common::connect(target, false).await;
        let (value, ttl) = store
            .ttl("py_plain", Some(&collection))
            .await
            .unwrap()
            .expect("py_plain");
        assert_eq!(value, sample(1));
        assert_eq!(ttl, None, "an entry Python wrote without ttl");

        let (value, ttl) = store
            .ttl("py_expiring", Some(&collection))
            .await
            .unwrap()
            .expect("py_expiring");
        assert_eq!(value, sample(2));
        let ttl = ttl.expect("a ttl");
        assert!(
            ttl > Duration::from_secs(290) && ttl <= Duration::from_secs(300),
            "ttl {ttl:?}"
        );

        let many = store
            .ttl_many(&["py_many_0", "py_many_1", "py_many_2"], Some(&collection))
            .await
            .unwrap();
        for (slot, n) in many.into_iter().zip(10..) {
            let (value, ttl) = slot.expect("an entry of put_many");
            assert_eq!(value, sample(n));
            let ttl = ttl.expect("a ttl");
            assert!(ttl > Duration::from_secs(190) && ttl <= Duration::from_secs(200));
        }

        // Python's layout is ours: the same Redis key, with a native expiry.
        let raw = common::Raw::connect(target, false).await;
        let stored = redis_key(&collection, "py_expiring");
        assert_eq!(stored, format!("{collection}::py_expiring"));
        assert!(raw.get(&stored).await.unwrap().is_some());
        let pttl = raw.pttl(&stored).await.unwrap();
        assert!(pttl > 290_000 && pttl <= 300_000, "native expiry {pttl} ms");

        let mut keys = store.keys(Some(&collection), None).await.unwrap();
        keys.sort();
        assert_eq!(
            keys,
            [
                "py_expiring",
                "py_many_0",
                "py_many_1",
                "py_many_2",
                "py_plain"
            ]
        );
        assert!(store.destroy_collection(&collection).await.unwrap());
    });
}

/// Rust and py-key-value over one Redis, both ways, byte for byte, over the hostile-name
/// corpus and edge values: Rust's entries in database 2, Python's in database 3 of a
/// private server.
mod corpus {
    use std::collections::HashMap;
    use std::sync::Arc;

    use key_value_core::{AsyncKeyValue, async_trait};
    use key_value_fernet::{FernetKey, FernetWrapper};
    use key_value_redis::{RedisStore, redis, redis_key};
    use key_value_test_support::python::{
        PythonPeer, Sealing, StoredForm, StoredForms, check_interop, interop_corpus,
    };
    use key_value_test_support::redis::RedisServer;

    const PEER: PythonPeer<'static> = PythonPeer {
        imports: "from key_value.aio.stores.redis import RedisStore",
        store: "RedisStore(url=target)",
    };

    /// Raw `GET` and `PTTL` per database URL.
    struct RawRedis(HashMap<String, redis::aio::ConnectionManager>);

    #[async_trait]
    impl StoredForms for RawRedis {
        async fn stored(&self, target: &str, collection: &str, key: &str) -> Option<StoredForm> {
            let mut connection = self.0.get(target)?.clone();
            let stored = redis_key(collection, key);
            let document: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&stored)
                .query_async(&mut connection)
                .await
                .unwrap();
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&stored)
                .query_async(&mut connection)
                .await
                .unwrap();
            let document = String::from_utf8(document?).expect("a UTF-8 document");
            let rest = if pttl > 0 {
                "native expiry"
            } else {
                "no native expiry"
            };
            Some(StoredForm {
                document,
                rest: rest.to_owned(),
            })
        }
    }

    fn wrap(store: RedisStore, key: Option<&FernetKey>) -> Arc<dyn AsyncKeyValue> {
        match key {
            None => Arc::new(store),
            Some(key) => Arc::new(FernetWrapper::new(store, key.clone())),
        }
    }

    async fn both_ways(test: &str, sealing: Sealing, key: Option<FernetKey>) {
        let Some(server) = RedisServer::start(test) else {
            return;
        };
        let rust_target = format!("{}2", server.url());
        let python_target = format!("{}3", server.url());
        let mut raw = HashMap::new();
        for target in [&rust_target, &python_target] {
            let client = redis::Client::open(target.as_str()).unwrap();
            raw.insert(
                target.clone(),
                redis::aio::ConnectionManager::new(client).await.unwrap(),
            );
        }
        let rust_store = wrap(
            RedisStore::connect(&rust_target).await.unwrap(),
            key.as_ref(),
        );
        let python_view = wrap(
            RedisStore::connect(&python_target).await.unwrap(),
            key.as_ref(),
        );
        let corpus = interop_corpus(usize::MAX);
        check_interop(
            test,
            &PEER,
            &sealing,
            &corpus,
            &rust_target,
            &*rust_store,
            &python_target,
            &*python_view,
            &RawRedis(raw),
        )
        .await;

        // Enumeration of Python's data names every entry as Python wrote it: no
        // phantom collection `a` for the collection `a::b`.
        let mut listed = python_view.collections(None).await.unwrap();
        listed.sort();
        let mut written: Vec<String> = corpus.iter().map(|e| e.collection.clone()).collect();
        written.sort();
        written.dedup();
        assert_eq!(listed, written, "{test}: collections of Python's data");
        let mut keys = python_view.keys(Some("interop"), None).await.unwrap();
        keys.sort();
        let mut expected: Vec<String> = corpus
            .iter()
            .filter(|e| e.collection == "interop")
            .map(|e| e.key.clone())
            .collect();
        expected.sort();
        assert_eq!(
            keys, expected,
            "{test}: keys of Python's `interop` collection"
        );
        assert_eq!(
            python_view.keys(Some("a::b"), None).await.unwrap(),
            ["k"],
            "{test}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_plain() {
        both_ways("redis interop corpus plain", Sealing::Plain, None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_key() {
        let key = FernetKey::generate().unwrap();
        let sealing = Sealing::FernetKey {
            key: key.to_base64().to_string(),
        };
        both_ways("redis interop corpus fernet key", sealing, Some(key)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corpus_fernet_password() {
        let (password, salt) = ("correct horse battery staple", "key-value-rs interop salt");
        let key = FernetKey::derive_from_password(password, salt).unwrap();
        let sealing = Sealing::Password {
            password: password.to_owned(),
            salt: salt.to_owned(),
            key: key.to_base64().to_string(),
        };
        both_ways("redis interop corpus fernet password", sealing, Some(key)).await;
    }
}
