//! The Python peer: py-key-value-aio in the virtual environment that
//! `scripts/deps/python.sh` makes at `target/py/kv`, and [`check_interop`], the
//! both-ways, byte-for-byte interoperability check every store with a Python peer runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use key_value_conformance::corpus::{edge_values, hostile_names};
use key_value_core::{AsyncKeyValue, JsonObject, JsonStyle, async_trait, python_json};
use serde_json::{Value, json};

/// The Python interpreter with py-key-value-aio installed: `KEYVALUE_PYTHON`, or
/// `target/py/kv/bin/python`. `None` when neither exists.
pub fn interpreter() -> Option<PathBuf> {
    crate::find_program("KEYVALUE_PYTHON", "target/py/kv/bin/python", None)
}

/// Runs `script` with the Python peer, `args` after it, and returns its standard output.
///
/// `None` (after a loud skip) when the peer is not installed; a panic with Python's
/// standard error when the script fails.
pub fn run(test: &str, script: &str, args: &[&str]) -> Option<String> {
    let Some(python) = interpreter() else {
        crate::skip(test, "the Python peer (py-key-value-aio) is not installed");
        return None;
    };
    let mut child = match Command::new(&python)
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("{test}: could not start {}: {e}", python.display()),
    };
    if let Some(mut stdin) = child.stdin.take()
        && let Err(e) = stdin.write_all(script.as_bytes())
    {
        panic!("{test}: could not send the script to Python: {e}");
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(e) => panic!("{test}: Python did not finish: {e}"),
    };
    if !output.status.success() {
        panic!(
            "{test}: the Python script failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// How values are sealed on both sides of an interoperability check.
#[derive(Clone)]
pub enum Sealing {
    /// No wrapper.
    Plain,
    /// py-key-value's `FernetEncryptionWrapper(fernet=Fernet(key))` against our
    /// `FernetWrapper` with the same key (URL-safe base64 text).
    FernetKey {
        /// The Fernet key.
        key: String,
    },
    /// `FernetEncryptionWrapper(source_material=password, salt=salt)` against our
    /// wrapper over `FernetKey::derive_from_password(password, salt)`; `key` is that
    /// derived key (base64), used to open stored tokens directly.
    Password {
        /// The password.
        password: String,
        /// The salt.
        salt: String,
        /// The key both sides derive.
        key: String,
    },
}

impl Sealing {
    fn key(&self) -> Option<&str> {
        match self {
            Sealing::Plain => None,
            Sealing::FernetKey { key } | Sealing::Password { key, .. } => Some(key),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Sealing::Plain => json!({"kind": "plain"}),
            Sealing::FernetKey { key } => json!({"kind": "key", "key": key}),
            Sealing::Password {
                password,
                salt,
                key,
            } => json!({"kind": "password", "password": password, "salt": salt, "key": key}),
        }
    }
}

/// One entry of an interoperability check.
#[derive(Clone)]
pub struct InteropEntry {
    /// The collection.
    pub collection: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: JsonObject,
    /// Time to live in whole seconds, if any.
    pub ttl: Option<u64>,
}

/// The TTL given to every third entry of [`interop_corpus`], in seconds.
pub const INTEROP_TTL: u64 = 3600;

/// The interoperability corpus: every [`hostile_names`] name of at most
/// `max_name_bytes` bytes as a key in the collection `interop`, and as a collection
/// holding the key `k`; values cycle through [`edge_values`]; every third entry
/// expires after [`INTEROP_TTL`] seconds.
pub fn interop_corpus(max_name_bytes: usize) -> Vec<InteropEntry> {
    let names: Vec<String> = hostile_names()
        .into_iter()
        .filter(|name| name.len() <= max_name_bytes)
        .collect();
    let values = edge_values();
    let pairs = names
        .iter()
        .map(|name| ("interop".to_owned(), name.clone()))
        .chain(names.iter().map(|name| (name.clone(), "k".to_owned())));
    pairs
        .enumerate()
        .map(|(i, (collection, key))| InteropEntry {
            collection,
            key,
            value: values[i % values.len()].clone(),
            ttl: (i % 3 == 0).then_some(INTEROP_TTL),
        })
        .collect()
}

/// What a backend stores for one entry: the entry document, and the rest of the stored
/// form as text (other attributes, whether a native expiry is set), both compared byte
/// for byte between what Rust and Python wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    /// The stored entry document.
    pub document: String,
    /// Everything else the backend keeps for the entry, rendered by the test.
    pub rest: String,
}

/// Raw access to what a backend stores, for [`check_interop`].
#[async_trait]
pub trait StoredForms: Send + Sync {
    /// The stored form of (`collection`, `key`) in the namespace `target` (a Redis
    /// database URL, a DynamoDB table), or `None` when nothing is stored there.
    async fn stored(&self, target: &str, collection: &str, key: &str) -> Option<StoredForm>;
}

/// How the Python peer builds its store: import lines, and an expression of the
/// variable `target` (the namespace: a URL, a table name) that makes the store.
pub struct PythonPeer<'a> {
    /// Python import lines.
    pub imports: &'a str,
    /// An expression of `target` that builds the store.
    pub store: &'a str,
}

/// Writes `corpus` with py-key-value into `python_target`, then reads it back and what
/// Rust wrote into `rust_target`; writes the check's input and output as JSON files.
const INTEROP_SCRIPT: &str = r#"
import asyncio, base64, json, sys
from cryptography.fernet import Fernet
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper
__IMPORTS__

def make_store(target):
    return __STORE__

async def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    mode = cfg["mode"]
    def wrap(inner):
        if mode["kind"] == "plain":
            return inner
        if mode["kind"] == "key":
            return FernetEncryptionWrapper(inner, fernet=Fernet(mode["key"]))
        return FernetEncryptionWrapper(inner, source_material=mode["password"], salt=mode["salt"])
    opener = None if mode["kind"] == "plain" else Fernet(mode["key"])
    inner = make_store(cfg["python_target"])
    async with inner:
        store = wrap(inner)
        for e in cfg["entries"]:
            await store.put(e["key"], e["value"], collection=e["collection"], ttl=e["ttl"])
    out = {}
    for side in ("rust", "python"):
        inner = make_store(cfg[side + "_target"])
        seen = []
        async with inner:
            store = wrap(inner)
            for e in cfg["entries"]:
                value, ttl = await store.ttl(e["key"], collection=e["collection"])
                plaintext = None
                if opener is not None:
                    envelope = await inner.get(e["key"], collection=e["collection"])
                    token = base64.b64decode(envelope["__encrypted_data__"])
                    plaintext = opener.decrypt(token).decode("utf-8")
                seen.append({"value": value, "ttl": ttl, "plaintext": plaintext})
        out[side] = seen
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)

asyncio.run(main())
"#;

/// `document` with its timestamps and Fernet token replaced by `…` (the parts of a
/// stored form that differ between two writes of the same input).
pub fn normalize_document(document: &str) -> String {
    let mut text = document.to_owned();
    for field in ["created_at", "expires_at", "__encrypted_data__"] {
        let opening = format!("\"{field}\": \"");
        let mut from = 0;
        while let Some(found) = text[from..].find(&opening) {
            let start = from + found + opening.len();
            let Some(length) = text[start..].find('"') else {
                break;
            };
            text.replace_range(start..start + length, "…");
            from = start + "…".len();
        }
    }
    text
}

/// The plaintext of the Fernet envelope a stored document holds, opened with `key`.
fn open_envelope(document: &str, key: &str) -> Result<String, String> {
    let parsed: Value = serde_json::from_str(document).map_err(|e| format!("document: {e}"))?;
    let Some(Value::String(data)) = parsed.pointer("/value/__encrypted_data__") else {
        return Err("the document holds no envelope".into());
    };
    let token = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("envelope base64: {e}"))?;
    let token = String::from_utf8(token).map_err(|e| format!("token text: {e}"))?;
    let fernet = fernet::Fernet::new(key).ok_or("bad Fernet key")?;
    let plaintext = fernet
        .decrypt(&token)
        .map_err(|_| "the token does not open".to_owned())?;
    String::from_utf8(plaintext).map_err(|e| format!("plaintext: {e}"))
}

/// A value as `json.dumps(value, separators=(",", ":"))` writes it: the key order
/// shows.
fn compact(value: &Value) -> String {
    match value {
        Value::Object(object) => {
            python_json(object, JsonStyle::Compact).unwrap_or_else(|e| format!("<{e}>"))
        }
        other => other.to_string(),
    }
}

/// Rust and the real py-key-value share one backend, both ways, over `corpus`:
///
/// 1. Rust writes the corpus through `rust_store` (its namespace `rust_target`), and
///    py-key-value (built by `peer`, sealed by `sealing`) writes it into
///    `python_target`;
/// 2. Python reads both namespaces, and Rust reads both (`rust_store`, `python_view`,
///    a Rust store over `python_target`): every value exactly, in the same key order on
///    all four reads (and, under Fernet, in insertion order), with the TTL written;
/// 3. the stored forms of both namespaces are equal byte for byte apart from
///    timestamps and Fernet tokens ([`normalize_document`]); under Fernet, the
///    plaintexts of both tokens, opened by Rust and by Python, are
///    `json.dumps(value, separators=(",", ":"))` of the value.
///
/// Returns `false` after a loud skip when the Python peer is not installed; panics
/// with every mismatch found (up to 30) otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn check_interop(
    test: &str,
    peer: &PythonPeer<'_>,
    sealing: &Sealing,
    corpus: &[InteropEntry],
    rust_target: &str,
    rust_store: &dyn AsyncKeyValue,
    python_target: &str,
    python_view: &dyn AsyncKeyValue,
    forms: &dyn StoredForms,
) -> bool {
    for entry in corpus {
        let ttl = entry.ttl.map(Duration::from_secs);
        if let Err(e) = rust_store
            .put(
                &entry.key,
                entry.value.clone(),
                ttl,
                Some(&entry.collection),
            )
            .await
        {
            panic!(
                "{test}: Rust put {:?}/{:?}: {e}",
                entry.collection, entry.key
            );
        }
    }

    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("{test}: temporary directory: {e}"),
    };
    let input = dir.path().join("input.json");
    let output = dir.path().join("output.json");
    let entries: Vec<Value> = corpus
        .iter()
        .map(|e| json!({"collection": e.collection, "key": e.key, "value": e.value, "ttl": e.ttl}))
        .collect();
    let config = json!({
        "mode": sealing.to_json(),
        "entries": entries,
        "rust_target": rust_target,
        "python_target": python_target,
    });
    if let Err(e) = std::fs::write(&input, config.to_string()) {
        panic!("{test}: writing the corpus: {e}");
    }
    let script = INTEROP_SCRIPT
        .replace("__IMPORTS__", peer.imports)
        .replace("__STORE__", peer.store);
    let (Some(input_arg), Some(output_arg)) = (input.to_str(), output.to_str()) else {
        panic!("{test}: temporary paths are not UTF-8");
    };
    if run(test, &script, &[input_arg, output_arg]).is_none() {
        return false;
    }
    let seen: Value = match std::fs::read(&output).map(|bytes| serde_json::from_slice(&bytes)) {
        Ok(Ok(seen)) => seen,
        other => panic!("{test}: Python's output: {other:?}"),
    };

    let mut failures: Vec<String> = Vec::new();
    let mut total = 0usize;
    let mut fail = |what: String| {
        total += 1;
        if failures.len() < 30 {
            failures.push(what);
        }
    };
    for (i, entry) in corpus.iter().enumerate() {
        let name = format!("#{i} {:?}/{:?}", entry.collection, entry.key);
        let expected = Value::Object(entry.value.clone());
        let mut reads: Vec<(&str, Value, Option<f64>)> = Vec::new();
        for side in ["rust", "python"] {
            let slot = &seen[side][i];
            reads.push((
                if side == "rust" {
                    "Python read of Rust's"
                } else {
                    "Python read of Python's"
                },
                slot["value"].clone(),
                slot["ttl"].as_f64(),
            ));
        }
        for (label, store) in [
            ("Rust read of Rust's", rust_store),
            ("Rust read of Python's", python_view),
        ] {
            match store.ttl(&entry.key, Some(&entry.collection)).await {
                Ok(Some((value, ttl))) => {
                    reads.push((label, Value::Object(value), ttl.map(|t| t.as_secs_f64())))
                }
                Ok(None) => fail(format!("{name}: {label}: missing")),
                Err(e) => fail(format!("{name}: {label}: {e}")),
            }
        }
        let first_order = reads.first().map(|(_, value, _)| compact(value));
        for (label, value, ttl) in &reads {
            if *value != expected {
                fail(format!("{name}: {label} value differs"));
            }
            if Some(compact(value)) != first_order {
                fail(format!(
                    "{name}: {label} has another key order or number form: {}",
                    compact(value).chars().take(200).collect::<String>()
                ));
            }
            match (entry.ttl, ttl) {
                (None, None) => {}
                (Some(set), Some(left)) if *left > set as f64 - 120.0 && *left <= set as f64 => {}
                (set, left) => fail(format!("{name}: {label} ttl {left:?}, set {set:?}")),
            }
        }
        let sealed_plaintext = python_json(&entry.value, JsonStyle::Compact).ok();
        if sealing.key().is_some() {
            // Under Fernet the value reads back in insertion order.
            for (label, value, _) in &reads {
                if Some(compact(value)) != sealed_plaintext {
                    fail(format!("{name}: {label} lost the insertion order"));
                }
            }
        }

        let rust_form = forms
            .stored(rust_target, &entry.collection, &entry.key)
            .await;
        let python_form = forms
            .stored(python_target, &entry.collection, &entry.key)
            .await;
        let (Some(rust_form), Some(python_form)) = (rust_form, python_form) else {
            fail(format!("{name}: a stored form is missing"));
            continue;
        };
        let (ours, theirs) = (
            normalize_document(&rust_form.document),
            normalize_document(&python_form.document),
        );
        if ours != theirs {
            let at = ours
                .char_indices()
                .zip(theirs.chars())
                .find(|((_, a), b)| a != b)
                .map_or(ours.len().min(theirs.len()), |((at, _), _)| at);
            let context = |text: &str| -> String {
                text.get(at.saturating_sub(40)..)
                    .unwrap_or("")
                    .chars()
                    .take(100)
                    .collect()
            };
            fail(format!(
                "{name}: stored documents differ at byte {at}: Rust {:?} Python {:?}",
                context(&ours),
                context(&theirs)
            ));
        }
        if rust_form.rest != python_form.rest {
            fail(format!(
                "{name}: stored forms differ: Rust {:?} Python {:?}",
                rust_form.rest, python_form.rest
            ));
        }
        if let Some(key) = sealing.key() {
            let python_opened = [
                &seen["rust"][i]["plaintext"],
                &seen["python"][i]["plaintext"],
            ];
            let rust_opened = [
                open_envelope(&rust_form.document, key),
                open_envelope(&python_form.document, key),
            ];
            for (side, opened) in ["Rust's", "Python's"].iter().zip(rust_opened) {
                match opened {
                    Ok(text) if Some(&text) == sealed_plaintext.as_ref() => {}
                    Ok(_) => fail(format!(
                        "{name}: Rust opened {side} token to another plaintext"
                    )),
                    Err(e) => fail(format!("{name}: Rust could not open {side} token: {e}")),
                }
            }
            for (side, opened) in ["Rust's", "Python's"].iter().zip(python_opened) {
                if opened.as_str() != sealed_plaintext.as_deref() {
                    fail(format!(
                        "{name}: Python opened {side} token to another plaintext"
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{test}: {total} mismatches between Rust and py-key-value (first {}):\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    true
}

/// The Python interpreter with the real FastMCP installed: `FASTMCP_PYTHON`, or
/// `target/py/fastmcp/bin/python` (made by `scripts/deps/fastmcp.sh`). `None` when
/// neither exists.
pub fn fastmcp_interpreter() -> Option<PathBuf> {
    crate::find_program("FASTMCP_PYTHON", "target/py/fastmcp/bin/python", None)
}
