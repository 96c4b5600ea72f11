//! What a case runs with: the store under test, unique names, checks, and cleanup.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use key_value_core::{AsyncKeyValue, Capabilities, Error, ErrorKind, JsonObject};

use crate::fixture::RawAccess;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The store broke a rule; the message says which and how.
    Failed(String),
    /// The case needs a capability the store does not declare.
    NotApplicable(String),
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Failed(why) => write!(f, "FAILED: {why}"),
            CaseError::NotApplicable(why) => write!(f, "not applicable: {why}"),
        }
    }
}

/// A store error where none was expected fails the case, with the error in the message.
impl From<Error> for CaseError {
    fn from(err: Error) -> Self {
        CaseError::Failed(format!("the store returned an unexpected error: {err}"))
    }
}

/// What a case returns.
pub type Outcome = Result<(), CaseError>;

/// Fails the case unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err($crate::harness::CaseError::Failed(format!(
                "{} (at {}:{})", format!($($why)+), file!(), line!()
            )));
        }
    };
}

/// Fails the case.
macro_rules! fail {
    ($($why:tt)+) => {
        return Err($crate::harness::CaseError::Failed(format!(
            "{} (at {}:{})", format!($($why)+), file!(), line!()
        )))
    };
}

/// Fails the case unless `left == right`, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($why:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err($crate::harness::CaseError::Failed(format!(
                "{}: got {:?}, expected {:?} (at {}:{})",
                format!($($why)+), left, right, file!(), line!()
            )));
        }
    }};
}

pub(crate) use {ensure, ensure_eq, fail};

/// Checks that `result` is an error of `kind`, and returns it.
pub(crate) fn expect_error<T: fmt::Debug>(
    result: key_value_core::Result<T>,
    kind: ErrorKind,
    what: &str,
) -> Result<Error, CaseError> {
    match result {
        Err(err) if err.kind() == kind => Ok(err),
        Err(err) => Err(CaseError::Failed(format!(
            "{what}: expected a `{kind:?}` error, got another error: {err}"
        ))),
        Ok(value) => Err(CaseError::Failed(format!(
            "{what}: expected a `{kind:?}` error, but the call succeeded with {value:?}"
        ))),
    }
}

/// The JSON object `{"n": n}`, the suite's everyday value.
pub(crate) fn num(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

/// A JSON object from a `json!` literal that must be an object.
pub(crate) fn object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(object) => object,
        other => {
            let mut wrapped = JsonObject::new();
            wrapped.insert("value".into(), other);
            wrapped
        }
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A short random tag that makes names unique across processes sharing one server.
fn random_tag() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(NONCE.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// The context of one case: the store, its capabilities, and names no other case uses.
pub struct Ctx {
    store: Arc<dyn AsyncKeyValue>,
    raw: Option<Arc<dyn RawAccess>>,
    caps: Capabilities,
    exclusive: bool,
    /// Names spelling one `collection::key` share an entry (see `Fixture::shared_compound_keys`).
    compound_keys: bool,
    prefix: String,
    /// Collections only this case uses: removed whole afterwards.
    collections: Mutex<Vec<String>>,
    /// Collections other cases may use too (the default one, fixed special names):
    /// only this case's keys are removed from them.
    borrowed: Mutex<Vec<String>>,
    /// Keys made by [`Ctx::key`], unique to this case run.
    keys: Mutex<Vec<String>>,
}

impl Ctx {
    pub(crate) fn new(
        case: &str,
        store: Arc<dyn AsyncKeyValue>,
        raw: Option<Arc<dyn RawAccess>>,
        exclusive: bool,
    ) -> Self {
        let caps = store.capabilities();
        Ctx {
            store,
            raw,
            caps,
            exclusive,
            compound_keys: false,
            prefix: format!("kvc-{case}-{}", random_tag()),
            collections: Mutex::new(Vec::new()),
            borrowed: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
        }
    }

    /// Marks the store as laid out in shared compound keys.
    pub(crate) fn with_compound_keys(mut self, compound_keys: bool) -> Self {
        self.compound_keys = compound_keys;
        self
    }

    /// Whether names spelling one `collection::key` share an entry.
    pub(crate) fn compound_keys(&self) -> bool {
        self.compound_keys
    }

    /// The store under test.
    pub(crate) fn store(&self) -> &dyn AsyncKeyValue {
        &*self.store
    }

    /// A shared handle on the store, for spawned tasks.
    pub(crate) fn shared_store(&self) -> Arc<dyn AsyncKeyValue> {
        Arc::clone(&self.store)
    }

    /// The capabilities the store declares.
    pub(crate) fn caps(&self) -> Capabilities {
        self.caps
    }

    /// A collection name unique to this case run, removed afterwards.
    pub(crate) fn collection(&self, label: &str) -> String {
        let name = format!("{}-{label}", self.prefix);
        self.track_collection(&name);
        name
    }

    fn track_collection(&self, name: &str) {
        locked(&self.collections).push(name.to_owned());
    }

    /// Uses a collection with a fixed name that other cases may use at the same time:
    /// work in it with [`Ctx::key`] keys only, which are removed afterwards.
    pub(crate) fn borrow_collection(&self, name: &str) -> String {
        locked(&self.borrowed).push(name.to_owned());
        name.to_owned()
    }

    /// A key unique to this case run, for collections shared with other cases (the
    /// default one, borrowed ones), removed afterwards.
    pub(crate) fn key(&self, label: &str) -> String {
        let name = format!("{}-{label}", self.prefix);
        locked(&self.keys).push(name.clone());
        name
    }

    /// Continues only if the store declares `available`; otherwise the case is not applicable.
    pub(crate) fn require(&self, available: bool, capability: &str) -> Outcome {
        if available {
            Ok(())
        } else {
            Err(CaseError::NotApplicable(format!(
                "the store does not declare the `{capability}` capability"
            )))
        }
    }

    /// Raw access to stored documents, if the fixture provides it.
    pub(crate) fn raw(&self) -> Result<&dyn RawAccess, CaseError> {
        self.raw.as_deref().ok_or_else(|| {
            CaseError::NotApplicable(
                "the fixture gives no raw access to stored documents (Fixture::with_raw_access)"
                    .into(),
            )
        })
    }

    /// Continues only if the store belongs to this case alone (not shared with other cases).
    pub(crate) fn require_exclusive(&self) -> Outcome {
        if self.exclusive {
            Ok(())
        } else {
            Err(CaseError::NotApplicable(
                "the fixture's store is shared with other cases (Fixture::shared)".into(),
            ))
        }
    }

    /// Removes what the case wrote, as far as the store's capabilities allow.
    pub(crate) async fn cleanup(&self) {
        let collections = std::mem::take(&mut *locked(&self.collections));
        for collection in &collections {
            if self.caps.destroy_collection {
                let _ = self.store.destroy_collection(collection).await;
            } else if self.caps.list_keys
                && let Ok(keys) = self.store.keys(Some(collection), None).await
            {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let _ = self.store.delete_many(&keys, Some(collection)).await;
            }
        }
        let keys = std::mem::take(&mut *locked(&self.keys));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let _ = self.store.delete_many(&keys, None).await;
        let borrowed = std::mem::take(&mut *locked(&self.borrowed));
        for collection in &borrowed {
            let _ = self.store.delete_many(&keys, Some(collection)).await;
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
