//! The one error type shared by every store, wrapper and adapter of the family.
//!
//! An [`Error`] is a [`ErrorKind`] plus a message and the context it happened in: the
//! store, the collection and the key (never the value, which may be a secret). Backends
//! only say *what* went wrong; the layer that validated the call fills in *where*, so
//! every message names its store, collection and key the same way.

use std::borrow::Cow;
use std::fmt;

/// A `Result` whose error is the family-wide [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is. Match on this, not on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A key or collection name breaks the naming rules (empty, too long, NUL).
    InvalidKey,
    /// A time-to-live is zero, negative, not finite, or reaches past year 9999.
    InvalidTtl,
    /// The call's arguments do not fit together (for example `put_many` with more keys than values).
    InvalidArgument,
    /// A value could not be turned into its stored form.
    Serialization,
    /// A stored entry could not be read back (corrupted, foreign or newer format).
    Deserialization,
    /// A value is larger than the backend accepts; nothing was written.
    ValueTooLarge,
    /// The store (or this operation on it) is read-only.
    ReadOnly,
    /// The backend could not be reached or the connection broke; worth retrying.
    Connection,
    /// The store could not be set up (bad configuration, unusable file, schema mismatch).
    Setup,
    /// The backend reported an error that fits no other kind.
    Backend,
    /// A value could not be encrypted.
    Encryption,
    /// A stored value could not be decrypted (wrong key, tampering, not sealed).
    Decryption,
    /// The store does not offer this optional operation (see `Capabilities`).
    Unsupported,
    /// The operation did not finish within its time limit (a timeout layer gave up on
    /// it; it may still have taken effect); worth retrying.
    Timeout,
    /// A layer refused the call without trying it, to protect the store or the backend:
    /// an open circuit breaker, a full bulkhead, a spent rate limit. Not retryable by
    /// default: retrying at once would be refused again.
    Unavailable,
}

impl ErrorKind {
    /// A short, lower-case description of the kind, used at the start of messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::InvalidTtl => "invalid ttl",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Serialization => "serialization failed",
            ErrorKind::Deserialization => "deserialization failed",
            ErrorKind::ValueTooLarge => "value too large",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::Connection => "connection failed",
            ErrorKind::Setup => "setup failed",
            ErrorKind::Backend => "backend error",
            ErrorKind::Encryption => "encryption failed",
            ErrorKind::Decryption => "decryption failed",
            ErrorKind::Unsupported => "unsupported operation",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every store operation in the family.
///
/// ```
/// use key_value_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Connection, "server closed the connection")
///     .in_context("redis", "tokens", "user-1");
/// assert_eq!(err.kind(), ErrorKind::Connection);
/// assert!(err.is_retryable());
/// assert_eq!(
///     err.to_string(),
///     "connection failed: server closed the connection (store redis, collection \"tokens\", key \"user-1\")"
/// );
/// ```
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    store: Option<Cow<'static, str>>,
    collection: Option<String>,
    key: Option<String>,
    retryable: Option<bool>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a message saying what went wrong.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            message: message.into(),
            store: None,
            collection: None,
            key: None,
            retryable: None,
            source: None,
        }
    }

    /// An [`ErrorKind::Unsupported`] error for the optional operation `operation`.
    pub fn unsupported(operation: &'static str) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("this store does not support `{operation}`"),
        )
    }

    /// An [`ErrorKind::ValueTooLarge`] error that names the size and the limit.
    pub fn value_too_large(size: usize, limit: usize) -> Self {
        Error::new(
            ErrorKind::ValueTooLarge,
            format!("the stored entry is {size} bytes; this store accepts at most {limit} bytes"),
        )
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Overrides whether the error is worth retrying (by default only
    /// [`ErrorKind::Connection`] and [`ErrorKind::Timeout`] are).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// Names the store the error happened in, unless a store is already named.
    pub fn with_store(mut self, store: impl Into<Cow<'static, str>>) -> Self {
        if self.store.is_none() {
            self.store = Some(store.into());
        }
        self
    }

    /// Names the collection, unless one is already named.
    pub fn with_collection(mut self, collection: &str) -> Self {
        if self.collection.is_none() {
            self.collection = Some(collection.to_owned());
        }
        self
    }

    /// Names the key, unless one is already named.
    pub fn with_key(mut self, key: &str) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_owned());
        }
        self
    }

    /// Fills in the store, collection and key that are not named yet.
    pub fn in_context(self, store: &str, collection: &str, key: &str) -> Self {
        self.with_store(store.to_owned())
            .with_collection(collection)
            .with_key(key)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The store the error happened in, if known.
    pub fn store(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// The collection the error happened in, if known.
    pub fn collection(&self) -> Option<&str> {
        self.collection.as_deref()
    }

    /// The key the error happened on, if known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        self.retryable.unwrap_or(matches!(
            self.kind,
            ErrorKind::Connection | ErrorKind::Timeout
        ))
    }
}

/// Names can be 4 KiB long; messages show a readable prefix.
const SHOWN_NAME_CHARS: usize = 80;

fn write_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let mut chars = name.chars();
    let shown: String = chars.by_ref().take(SHOWN_NAME_CHARS).collect();
    write!(f, "\"{}\"", shown.escape_debug())?;
    if chars.next().is_some() {
        write!(f, "… ({} bytes)", name.len())?;
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if self.store.is_none() && self.collection.is_none() && self.key.is_none() {
            return Ok(());
        }
        f.write_str(" (")?;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { ", " };
            first = false;
            f.write_str(s)
        };
        if let Some(store) = &self.store {
            sep(f)?;
            write!(f, "store {store}")?;
        }
        if let Some(collection) = &self.collection {
            sep(f)?;
            f.write_str("collection ")?;
            write_name(f, collection)?;
        }
        if let Some(key) = &self.key {
            sep(f)?;
            f.write_str("key ")?;
            write_name(f, key)?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("message", &self.message)
            .field("store", &self.store)
            .field("collection", &self.collection)
            .field("key", &self.key);
        if let Some(source) = &self.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_filled_once() {
        let err = Error::new(ErrorKind::Backend, "boom")
            .with_key("inner")
            .in_context("memory", "c", "outer");
        assert_eq!(err.key(), Some("inner"));
        assert_eq!(err.collection(), Some("c"));
        assert_eq!(err.store(), Some("memory"));
    }

    #[test]
    fn long_names_are_shortened_in_messages() {
        let key = "k".repeat(4096);
        let text = Error::new(ErrorKind::InvalidKey, "x")
            .with_key(&key)
            .to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("4096 bytes"), "{text}");
    }

    #[test]
    fn control_characters_are_escaped_in_messages() {
        let text = Error::new(ErrorKind::Backend, "x")
            .with_key("a\nb")
            .to_string();
        assert!(text.contains("a\\nb"), "{text}");
    }

    #[test]
    fn only_connection_errors_and_timeouts_are_retryable_by_default() {
        assert!(Error::new(ErrorKind::Connection, "x").is_retryable());
        assert!(Error::new(ErrorKind::Timeout, "x").is_retryable());
        assert!(!Error::new(ErrorKind::Unavailable, "x").is_retryable());
        assert!(!Error::new(ErrorKind::Backend, "x").is_retryable());
        assert!(
            Error::new(ErrorKind::Backend, "throttled")
                .with_retryable(true)
                .is_retryable()
        );
    }

    #[test]
    fn source_is_kept() {
        use std::error::Error as _;
        let io = std::io::Error::other("disk on fire");
        let err = Error::new(ErrorKind::Backend, "write failed").with_source(io);
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("disk on fire")
        );
    }
}
