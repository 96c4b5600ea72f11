//! How a store author hands a store to the suite.

use std::sync::Arc;

use key_value_core::{AsyncKeyValue, Result, async_trait};

/// Writes stored documents directly, bypassing the store's own encoding.
///
/// Backends that keep entries as text (files, rows, Redis strings) implement this in
/// their tests so that the suite can plant corrupted entries and documents written by
/// py-key-value, and check that the store reads them correctly or fails cleanly.
#[async_trait]
pub trait RawAccess: Send + Sync {
    /// Stores `document` as the raw stored form of `key` in `collection`.
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()>;

    /// Puts something hostile where the store keeps `key` of `collection` (or, for
    /// [`Hostile::ForeignFile`], among the collection's entries), as a careless or
    /// hostile file system could. Returns `false` when the store keeps nothing that
    /// can be replaced so (not kept in files): the case is then not applicable, which
    /// is the default.
    async fn plant_hostile(&self, collection: &str, key: &str, hostile: Hostile) -> Result<bool> {
        let _ = (collection, key, hostile);
        Ok(false)
    }
}

/// What [`RawAccess::plant_hostile`] puts in a store kept in files.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// A named pipe (FIFO) in place of the entry's file: opening it for reading
    /// blocks until a writer comes, which none will.
    NamedPipe,
    /// A symbolic link in place of the entry's file, to a file outside the store's
    /// root that holds this document (a valid entry document, for the key itself).
    LinkOutOfRoot(Vec<u8>),
    /// A file among the collection's entries that the store did not write (another
    /// name than any key's), holding this document (a valid entry document for
    /// another key of the collection).
    ForeignFile(Vec<u8>),
}

/// A store prepared for one case, with what the suite may know about it.
///
/// Any store converts into a fixture (see [`IntoFixture`]); build one explicitly to add
/// raw access, to mark a store that other tests share, or to skip loudly when the
/// backend is not available.
pub struct Fixture {
    pub(crate) setup: Setup,
}

pub(crate) enum Setup {
    Ready {
        store: Arc<dyn AsyncKeyValue>,
        raw: Option<Arc<dyn RawAccess>>,
        exclusive: bool,
        compound_keys: bool,
        guards: Vec<Box<dyn Send>>,
    },
    Skip(String),
}

impl Fixture {
    /// A fixture for `store`, which belongs to this case alone.
    pub fn new(store: impl AsyncKeyValue + 'static) -> Self {
        Fixture::from_arc(Arc::new(store))
    }

    /// A fixture for a shared store handle.
    pub fn from_arc(store: Arc<dyn AsyncKeyValue>) -> Self {
        Fixture {
            setup: Setup::Ready {
                store,
                raw: None,
                exclusive: true,
                compound_keys: false,
                guards: Vec::new(),
            },
        }
    }

    /// Keeps `guard` alive until the case has finished and cleaned up: a temporary
    /// directory, a server process, anything the store needs while it runs.
    pub fn keep_alive(mut self, guard: impl Send + 'static) -> Self {
        if let Setup::Ready { guards, .. } = &mut self.setup {
            guards.push(Box::new(guard));
        }
        self
    }

    /// Lets the suite plant raw documents (corrupted data, Python-written entries).
    pub fn with_raw_access(mut self, raw: impl RawAccess + 'static) -> Self {
        if let Setup::Ready { raw: slot, .. } = &mut self.setup {
            *slot = Some(Arc::new(raw));
        }
        self
    }

    /// Marks the store as shared with other cases (for example one server database
    /// for every case): cases that wipe the whole store are then not run.
    pub fn shared(mut self) -> Self {
        if let Setup::Ready { exclusive, .. } = &mut self.setup {
            *exclusive = false;
        }
        self
    }

    /// Marks a store laid out as py-key-value's `collection::key` (its Redis layout):
    /// names that spell one compound key (collection `a` with key `b::c`, collection
    /// `a::b` with key `c`) share one stored entry. The separator case then checks that
    /// the last write wins and the other name reads nothing, never the other's value.
    pub fn shared_compound_keys(mut self) -> Self {
        if let Setup::Ready { compound_keys, .. } = &mut self.setup {
            *compound_keys = true;
        }
        self
    }

    /// No store is available (for example no server to test against). The case is
    /// reported as skipped on standard error, and fails instead when the
    /// `KEYVALUE_REQUIRE_SERVERS` environment variable is `1`.
    pub fn skip(reason: impl Into<String>) -> Self {
        Fixture {
            setup: Setup::Skip(reason.into()),
        }
    }
}

/// What a fixture factory may return: any store, or a [`Fixture`].
pub trait IntoFixture {
    /// Converts into a fixture.
    fn into_fixture(self) -> Fixture;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Fixture {
        self
    }
}

impl<S: AsyncKeyValue + 'static> IntoFixture for S {
    fn into_fixture(self) -> Fixture {
        Fixture::new(self)
    }
}
