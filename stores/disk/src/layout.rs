//! Where things live in the store's directory, and the file operations that keep every
//! step crash safe. Everything here is blocking; the store runs it on tokio's blocking
//! pool. The layout is py-key-value's `FileTreeStore` with its `FileTreeV1` strategies
//! (see [`crate::names`]):
//!
//! ```text
//! root/
//!   .key-value-disk                      marker ("key-value-disk layout 2")
//!   S_mcp_oauth_token-3a009b34-info.json collection info, as FileTreeStore writes it:
//!                                        {"collection": …, "created_at": …,
//!                                         "directory": <absolute path>, "version": 1}
//!   S_mcp_oauth_token-3a009b34/          the collection's directory
//!     S_http_127_0_0_1_mcp-4b93b393.json one file per entry: the entry document
//!     .kv-lock                           lock file of put_if_absent
//!     .kvtmp-<pid>-<host>-<nonce>        a write in progress (renamed into place)
//!     .kvdel-<pid>-<host>-<nonce>        an entry being deleted
//!   .kvtrash-<pid>-<host>-<nonce>/       a collection being destroyed
//! ```
//!
//! Every directory is opened with `O_NOFOLLOW` and every file relative to its open
//! directory, so nothing here follows a link out of the root (see [`crate::sys`]).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use key_value_core::{
    Document, Durability, Entry, Error, ErrorKind, JsonObject, JsonStyle, Result, format_timestamp,
    python_json,
};
use lru::LruCache;
use rustix::fs::FileType;
use sha2::{Digest, Sha256};

use crate::names::{ENTRY_SUFFIX, INFO_SUFFIX, Limits, SHORTEST_LIMIT};
use crate::sys::{self, Refused};

/// The marker file naming the layout version.
pub(crate) const MARKER: &str = ".key-value-disk";
const MARKER_TEXT: &str = "key-value-disk layout 2\n";
/// The marker of the layout before py-key-value's, which this version does not read.
const OLD_MARKER_TEXT: &str = "key-value-disk layout 1\n";
const LOCK_FILE: &str = ".kv-lock";
const TEMP_PREFIX: &str = ".kvtmp-";
const TAKEN_PREFIX: &str = ".kvdel-";
const TRASH_PREFIX: &str = ".kvtrash-";
/// A leftover whose writer may still be alive (its PID was reused, or it runs on
/// another machine or in another PID namespace) is removed once this old.
const STALE_AFTER: Duration = Duration::from_secs(3600);
/// A leftover named for another machine, boot or PID namespace, where this process
/// cannot ask whether its writer lives, is removed once this old: a write holds its
/// temporary file for milliseconds, a minute is far past any live writer.
const FOREIGN_GRACE: Duration = Duration::from_secs(60);
/// Limit on reading a collection info file.
const INFO_LIMIT: usize = 64 * 1024;

/// Where a key's entry is (or goes), and what it holds.
struct Located {
    /// The file name in the collection's directory.
    file: String,
    /// The key's entry found there, if any.
    document: Option<Document>,
    /// Why the file could not be read, if it could not.
    error: Option<Error>,
}

/// The store's directory and how it writes.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The root, as opened (canonical: links resolved once, at open).
    pub(crate) root: PathBuf,
    root_fd: Arc<OwnedFd>,
    pub(crate) durability: Durability,
    pub(crate) max_entry_bytes: usize,
    limits: Limits,
    /// The directory of each collection this process has found (py-key-value's or the
    /// overflow one).
    dirs: Mutex<HashMap<String, String>>,
    /// Replaced entry files kept for reuse at `ProcessCrash`: see [`Layout::write_file`].
    spares: Spares,
    /// Set when the file system or system refuses write leases: files are then not reused.
    no_leases: AtomicBool,
}

/// Most replaced entry files a store keeps for reuse (each one entry's size on disk);
/// the least recently kept goes first.
const MAX_SPARES: NonZeroUsize = NonZeroUsize::new(256).unwrap();

/// Replaced entry files of this process, under its temporary names, each kept to take
/// the next write of the entry file it came from: (collection directory, entry file)
/// to temporary name.
struct Spares(Mutex<LruCache<(String, String), String>>);

impl Spares {
    fn new() -> Self {
        Spares(Mutex::new(LruCache::new(MAX_SPARES)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(String, String), String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the spare of `file` in `dir_name` out, if there is one.
    fn take(&self, dir_name: &str, file: &str) -> Option<String> {
        self.lock().pop(&(dir_name.to_owned(), file.to_owned()))
    }

    /// Keeps `temp` as the spare of `file`; returns the spare this displaces (the file's
    /// older one, or the least recently kept when full) as (directory, temporary name),
    /// for the caller to remove.
    fn keep(&self, dir_name: &str, file: &str, temp: String) -> Option<(String, String)> {
        self.lock()
            .push((dir_name.to_owned(), file.to_owned()), temp)
            .map(|((dir_name, _), temp)| (dir_name, temp))
    }

    /// Forgets the spares of a directory that is being destroyed (they go with it).
    fn forget_dir(&self, dir_name: &str) {
        let mut spares = self.lock();
        let gone: Vec<(String, String)> = spares
            .iter()
            .filter(|((dir, _), _)| dir == dir_name)
            .map(|(slot, _)| slot.clone())
            .collect();
        for slot in gone {
            spares.pop(&slot);
        }
    }

    fn drain(&self) -> Vec<(String, String)> {
        let mut spares = self.lock();
        let mut all = Vec::with_capacity(spares.len());
        while let Some(((dir_name, _), temp)) = spares.pop_lru() {
            all.push((dir_name, temp));
        }
        all
    }
}

impl fmt::Debug for Spares {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Spares").field(&self.lock().len()).finish()
    }
}

/// Removes spares, directory by directory, relative to the store's root.
fn remove_spares(root: &OwnedFd, mut spares: Vec<(String, String)>) {
    spares.sort();
    let mut open: Option<(String, OwnedFd)> = None;
    for (dir_name, temp) in spares {
        if open.as_ref().is_none_or(|(name, _)| *name != dir_name) {
            open = match sys::open_dir(root, &dir_name) {
                Ok(Some(dir)) => Some((dir_name, dir)),
                _ => None,
            };
        }
        if let Some((_, dir)) = &open {
            let _ = sys::remove(dir, &temp);
        }
    }
}

impl Drop for Layout {
    /// Removes the kept spares: on tokio's blocking pool when a runtime is at hand (not
    /// waited for: if the runtime is shutting down and never runs it, or the process
    /// dies first, the next open removes them, as it does a killed writer's temporary
    /// files), otherwise here.
    fn drop(&mut self) {
        let spares = self.spares.drain();
        if spares.is_empty() {
            return;
        }
        let root = Arc::clone(&self.root_fd);
        let remove = move || remove_spares(&root, spares);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// What a replaced entry leaves behind: its old file, removed when this is dropped.
/// Writers drop it after answering, so the unlink is off the caller's path.
#[must_use]
pub(crate) struct Leftover(Option<(Arc<OwnedFd>, String)>);

impl Leftover {
    /// The old file's directory and temporary name, no longer to be removed on drop.
    fn into_parts(mut self) -> Option<(Arc<OwnedFd>, String)> {
        self.0.take()
    }

    /// Whether there is an old file to remove.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl Drop for Leftover {
    fn drop(&mut self) {
        if let Some((dir, name)) = self.0.take() {
            let _ = sys::remove(&*dir, &name);
        }
    }
}

/// This process's mark in the names of its temporary files: its PID and a tag for the
/// machine, boot and PID namespace it runs in, so another process can tell whether the
/// writer of a leftover is certainly gone.
fn owner() -> &'static (u32, String) {
    static OWNER: OnceLock<(u32, String)> = OnceLock::new();
    OWNER.get_or_init(|| {
        let mut hasher = Sha256::new();
        hasher.update(std::fs::read("/proc/sys/kernel/random/boot_id").unwrap_or_default());
        hasher.update(
            std::fs::read_link("/proc/self/ns/pid")
                .map(|p| p.into_os_string().into_encoded_bytes())
                .unwrap_or_default(),
        );
        hasher.update(std::fs::read("/etc/hostname").unwrap_or_default());
        let digest = hasher.finalize();
        let tag = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        (std::process::id(), tag)
    })
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A name no other writer (thread or process) picks at the same time.
fn unique(prefix: &str) -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(NONCE.fetch_add(1, Ordering::Relaxed));
    let (pid, tag) = owner();
    format!("{prefix}{pid}-{tag}-{:016x}", hasher.finish())
}

/// Whether a leftover named `name`, last modified `age` ago, can have no live writer.
///
/// Ours carry `<pid>-<tag>-<nonce>`: with our tag (same machine, boot and PID
/// namespace) a PID that no longer runs means its writer is gone, at once; a running PID
/// (ours, or a reused one) keeps it until [`STALE_AFTER`]. With another tag we cannot ask,
/// and wait [`FOREIGN_GRACE`]. Python's own temporary files (`tmp….tmp`, from `mkstemp`)
/// carry no PID and wait [`STALE_AFTER`].
fn abandoned(name: &str, age: Duration) -> bool {
    let rest = [TEMP_PREFIX, TAKEN_PREFIX, TRASH_PREFIX]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix));
    let Some(rest) = rest else {
        let python_temp = name.starts_with("tmp") && name.ends_with(".tmp");
        return python_temp && age > STALE_AFTER;
    };
    let mut parts = rest.split('-');
    let (Some(pid), Some(tag)) = (parts.next(), parts.next()) else {
        return age > STALE_AFTER;
    };
    let (own_pid, own_tag) = owner();
    match pid.parse::<i32>() {
        Ok(pid) if tag == own_tag => {
            let gone = i64::from(pid) != i64::from(*own_pid) && !sys::process_alive(pid);
            gone || age > STALE_AFTER
        }
        _ => age > FOREIGN_GRACE,
    }
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("could not {what} {}", path.display()),
    )
    .with_source(e)
}

fn refused_error(path: &Path, refused: Refused) -> Error {
    match refused {
        Refused::Io(e) => io_error("read", path, e),
        Refused::Busy => Error::new(
            ErrorKind::Backend,
            format!("could not read {}: {}", path.display(), Refused::Busy),
        ),
        other => Error::new(
            ErrorKind::Deserialization,
            format!("{} is not an entry: {other}", path.display()),
        ),
    }
}

impl Layout {
    /// Opens (creating if needed, owner-only) the store's directory, checks it is ours
    /// and writable, and removes what killed writers left behind.
    pub(crate) fn open(
        root: PathBuf,
        durability: Durability,
        max_entry_bytes: usize,
    ) -> Result<Self> {
        let setup = |what: String| Error::new(ErrorKind::Setup, what).with_store("disk");
        match std::fs::metadata(&root) {
            Ok(meta) if !meta.is_dir() => {
                return Err(setup(format!(
                    "{} exists and is not a directory",
                    root.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir_all(&root).map_err(|e| {
                    setup(format!("could not create {}", root.display())).with_source(e)
                })?;
            }
            Err(e) => {
                return Err(setup(format!("could not open {}", root.display())).with_source(e));
            }
        }
        // py-key-value resolves its directory (`Path.resolve()`) and writes that path
        // into the info files: so do we.
        let root = std::fs::canonicalize(&root)
            .map_err(|e| setup(format!("could not open {}", root.display())).with_source(e))?;
        let root_fd = sys::open_root(&root)
            .map_err(|e| setup(format!("could not open {}", root.display())).with_source(e))?;
        let name_max = sys::name_max(&root_fd).unwrap_or(255);
        let limits = Limits::new(name_max, root.to_string_lossy().chars().count());
        if limits.key.min(limits.collection) < SHORTEST_LIMIT {
            return Err(setup(format!(
                "{} allows file names of {name_max} bytes and paths of {} more: too short \
                 for py-key-value's FileTree layout",
                root.display(),
                limits.key
            )));
        }
        let layout = Layout {
            root,
            root_fd: Arc::new(root_fd),
            durability,
            max_entry_bytes,
            limits,
            dirs: Mutex::new(HashMap::new()),
            spares: Spares::new(),
            no_leases: AtomicBool::new(!cfg!(target_os = "linux")),
        };
        layout.check_marker()?;
        layout.remove_abandoned();
        Ok(layout)
    }

    fn check_marker(&self) -> Result<()> {
        let setup = |what: String| Error::new(ErrorKind::Setup, what).with_store("disk");
        match sys::read_regular(&*self.root_fd, MARKER, 1024) {
            Ok(Some(text)) if text == MARKER_TEXT.as_bytes() => Ok(()),
            Ok(Some(text)) if text == OLD_MARKER_TEXT.as_bytes() => Err(setup(format!(
                "{} holds a store of the earlier key-value-disk layout (1); this version \
                 reads py-key-value's FileTree layout (2): move the directory away",
                self.root.display()
            ))),
            Ok(Some(text)) => Err(setup(format!(
                "{} holds a store of another layout ({:?}); this version reads {:?}",
                self.root.display(),
                String::from_utf8_lossy(&text).trim(),
                MARKER_TEXT.trim()
            ))),
            // Writing the marker also proves the directory is writable.
            Ok(None) => self
                .write_atomic(&self.root_fd, &self.root, MARKER, MARKER_TEXT.as_bytes())
                .map(drop)
                .map_err(|e| {
                    setup(format!(
                        "{} is not writable: {}",
                        self.root.display(),
                        e.message()
                    ))
                }),
            Err(refused) => Err(setup(format!(
                "{}: {refused}",
                self.root.join(MARKER).display()
            ))),
        }
    }

    fn collection_name(&self, collection: &str) -> String {
        self.limits.collection(collection)
    }

    /// The file that holds (or would hold, were it the first of its names) an entry.
    pub(crate) fn entry_file(&self, collection: &str, key: &str) -> PathBuf {
        let dir_name = self
            .cached_dir(collection)
            .unwrap_or_else(|| self.collection_name(collection));
        let file = self
            .open_dir(&dir_name)
            .ok()
            .flatten()
            .and_then(|dir| self.locate(&dir, &dir_name, collection, key).ok())
            .map_or_else(|| self.limits.key_file(key), |located| located.file);
        self.root.join(dir_name).join(file)
    }

    /// Opens a directory in the root: `None` when it does not exist; a link or a file in
    /// its place is refused.
    fn open_dir(&self, dir_name: &str) -> Result<Option<Arc<OwnedFd>>> {
        sys::open_dir(&*self.root_fd, dir_name)
            .map(|fd| fd.map(Arc::new))
            .map_err(|refused| {
                let path = self.root.join(dir_name);
                match refused {
                    Refused::Io(e) => io_error("open", &path, e),
                    other => Error::new(
                        ErrorKind::Backend,
                        format!("{} is not a collection directory: {other}", path.display()),
                    ),
                }
            })
    }

    fn cached_dir(&self, collection: &str) -> Option<String> {
        self.dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(collection)
            .cloned()
    }

    fn remember_dir(&self, collection: &str, dir_name: &str) {
        self.dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(collection.to_owned(), dir_name.to_owned());
    }

    fn forget_dir(&self, collection: &str) {
        self.dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(collection);
    }

    /// The collection an info file names, if it is there and readable.
    fn info_owner(&self, dir_name: &str) -> Option<String> {
        let info = format!("{dir_name}{INFO_SUFFIX}");
        let bytes = sys::read_regular(&*self.root_fd, &info, INFO_LIMIT).ok()??;
        match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Object(info)) => match info.get("collection") {
                Some(serde_json::Value::String(name)) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// The directory a collection uses: py-key-value's, unless its info file names
    /// another collection (two names sharing it), then the overflow directory.
    fn choose_dir(&self, collection: &str) -> Result<String> {
        let primary = self.collection_name(collection);
        match self.info_owner(&primary) {
            Some(owner) if owner != collection => {}
            _ => return Ok(primary),
        }
        let overflow = self.limits.collection_overflow(collection);
        match self.info_owner(&overflow) {
            Some(owner) if owner != collection => Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "the directories {primary} and {overflow} of this collection both hold                      other collections; the store does not let one replace the other"
                ),
            )),
            _ => Ok(overflow),
        }
    }

    /// Opens the collection's directory, `None` when it does not exist.
    fn find_dir(&self, collection: &str) -> Result<Option<(String, Arc<OwnedFd>)>> {
        let dir_name = match self.cached_dir(collection) {
            Some(dir_name) => dir_name,
            None => self.choose_dir(collection)?,
        };
        match self.open_dir(&dir_name)? {
            Some(dir) => {
                self.remember_dir(collection, &dir_name);
                Ok(Some((dir_name, dir)))
            }
            None => {
                self.forget_dir(collection);
                Ok(None)
            }
        }
    }

    /// Opens the collection's directory, creating it and its info file if needed.
    fn make_dir(&self, collection: &str) -> Result<(String, Arc<OwnedFd>)> {
        for _ in 0..3 {
            if let Some(found) = self.find_dir(collection)? {
                return Ok(found);
            }
            let dir_name = self.choose_dir(collection)?;
            if sys::make_dir(&*self.root_fd, &dir_name)
                .map_err(|e| io_error("create", &self.root.join(&dir_name), e))?
            {
                self.sync(&*self.root_fd, &self.root)?;
            }
            if self.info_owner(&dir_name).is_none() {
                self.write_info(collection, &dir_name)?;
            }
            // Opened on the next turn (another process may destroy it meanwhile).
        }
        Err(Error::new(
            ErrorKind::Backend,
            format!(
                "the directory of collection {collection:?} in {} keeps vanishing",
                self.root.display()
            ),
        ))
    }

    /// Writes the collection's info file, as py-key-value does:
    /// `{"collection": …, "created_at": …, "directory": <absolute path>, "version": 1}`.
    fn write_info(&self, collection: &str, dir_name: &str) -> Result<()> {
        let mut document = JsonObject::new();
        document.insert("collection".into(), collection.into());
        document.insert(
            "created_at".into(),
            format_timestamp(SystemTime::now())?.into(),
        );
        document.insert(
            "directory".into(),
            self.root
                .join(dir_name)
                .to_string_lossy()
                .into_owned()
                .into(),
        );
        document.insert("version".into(), 1.into());
        let text = python_json(&document, JsonStyle::Sorted)?;
        let info = format!("{dir_name}{INFO_SUFFIX}");
        drop(self.write_atomic(&self.root_fd, &self.root, &info, text.as_bytes())?);
        Ok(())
    }

    /// Reads and parses `file` in `dir`; `None` when missing.
    fn read_document(
        &self,
        dir: &OwnedFd,
        file: &str,
        path: impl Fn() -> PathBuf,
    ) -> Result<Option<Document>> {
        match sys::read_regular(dir, file, self.max_entry_bytes) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => Document::parse(&bytes).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::Deserialization,
                    format!("{}: {}", path().display(), e.message()),
                )
            }),
            Err(refused) => Err(refused_error(&path(), refused)),
        }
    }

    /// The error for a key whose file and overflow file both hold other names' entries.
    fn clash(&self, path: &Path, document: &Document) -> Error {
        Error::new(
            ErrorKind::InvalidKey,
            format!(
                "{} holds the entry of another name{}, and so does this key's other file: \
                 the store does not let one name's entry replace another's",
                path.display(),
                document
                    .key
                    .as_deref()
                    .map(|k| format!(" (key {:?})", truncate(k)))
                    .unwrap_or_default()
            ),
        )
    }

    /// Whether `document` names another (collection, key) than the one asked for.
    /// Documents without names (py-key-value's) are taken as this key's.
    fn names_other(document: &Document, collection: &str, key: &str) -> bool {
        document.key.as_deref().is_some_and(|k| k != key)
            || document
                .collection
                .as_deref()
                .is_some_and(|c| c != collection)
    }

    /// Finds the file of `key` in the collection's directory: py-key-value's file name,
    /// unless it holds another name's entry (or is free while the overflow file holds
    /// this key's), then the overflow file. Both holding other names is a clash error.
    fn locate(
        &self,
        dir: &OwnedFd,
        dir_name: &str,
        collection: &str,
        key: &str,
    ) -> Result<Located> {
        let primary = self.limits.key_file(key);
        let path = |file: &str| self.root.join(dir_name).join(file);
        let first = self.read_document(dir, &primary, || path(&primary));
        if let Ok(Some(document)) = &first
            && !Self::names_other(document, collection, key)
        {
            return Ok(Located {
                document: first.ok().flatten(),
                file: primary,
                error: None,
            });
        }
        let overflow = self.limits.key_overflow(key);
        let second = self.read_document(dir, &overflow, || path(&overflow));
        match (first, second) {
            (Ok(Some(taken)), Ok(Some(document)))
                if Self::names_other(&document, collection, key) =>
            {
                let _ = taken;
                Err(self.clash(&path(&overflow), &document))
            }
            // The overflow file is this key's (it has its name: never a Python file).
            (_, Ok(Some(document)))
                if document.key.is_some() && !Self::names_other(&document, collection, key) =>
            {
                Ok(Located {
                    file: overflow,
                    document: Some(document),
                    error: None,
                })
            }
            // py-key-value's file holds another name: this key uses the overflow file.
            (Ok(Some(_)), second) => Ok(Located {
                file: overflow,
                document: None,
                error: second.err(),
            }),
            (first, _) => Ok(Located {
                file: primary,
                document: None,
                error: first.err(),
            }),
        }
    }

    /// Reads the entry of `key`; a file that is not this key's entry is an error for it alone.
    pub(crate) fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let Some((dir_name, dir)) = self.find_dir(collection)? else {
            return Ok(None);
        };
        let located = self.locate(&dir, &dir_name, collection, key)?;
        match located.error {
            Some(e) => Err(e),
            None => Ok(located.document.map(|document| document.entry)),
        }
    }

    fn document(&self, collection: &str, key: &str, entry: &Entry) -> Result<String> {
        let document = entry.to_document(collection, key)?;
        if document.len() > self.max_entry_bytes {
            return Err(Error::value_too_large(document.len(), self.max_entry_bytes));
        }
        Ok(document)
    }

    /// Takes the collection's lock file, for as long as the returned file is open.
    fn lock(&self, dir: &OwnedFd, dir_name: &str) -> Result<std::fs::File> {
        let path = || self.root.join(dir_name).join(LOCK_FILE);
        let lock = sys::open_lock(dir, LOCK_FILE).map_err(|e| io_error("open", &path(), e))?;
        sys::lock_exclusive(&lock).map_err(|e| io_error("lock", &path(), e))?;
        Ok(lock)
    }

    /// Writes `key`'s entry: a temporary file (flushed unless at `ProcessCrash`), put in
    /// place of the old entry. The directory is flushed (at `PowerLoss`) when `sync_dir`;
    /// a batch passes `false` and calls [`Layout::sync_collection`] once at its end.
    pub(crate) fn write(
        &self,
        collection: &str,
        key: &str,
        entry: &Entry,
        sync_dir: bool,
    ) -> Result<Leftover> {
        let document = self.document(collection, key, entry)?;
        for _ in 0..3 {
            let (dir_name, dir) = self.make_dir(collection)?;
            let dir_path = self.root.join(&dir_name);
            let leftover = self.write_in(&dir, &dir_name, &dir_path, collection, key, &document)?;
            if sync_dir {
                self.sync(&*dir, &dir_path)?;
            }
            if self.attached(&dir, &dir_name)? {
                return Ok(leftover);
            }
            // Another process destroyed the collection during the write: again.
            tracing::debug!("collection directory vanished during a write; retrying");
            self.forget_dir(collection);
        }
        Err(vanishing(collection))
    }

    /// Writes a batch of one collection's entries as [`Layout::write`] does without
    /// flushing the directory (the caller calls [`Layout::sync_collection`] once), with
    /// the directory opened once and checked once at the end instead of per entry (two
    /// system calls fewer each). A failure names its key; the leftovers of the entries
    /// written before it are returned with it.
    pub(crate) fn write_batch(
        &self,
        collection: &str,
        entries: &[(String, Entry)],
    ) -> (Result<()>, Vec<Leftover>) {
        let mut leftovers = Vec::with_capacity(entries.len());
        for _ in 0..3 {
            let (dir_name, dir) = match self.make_dir(collection) {
                Ok(found) => found,
                Err(e) => return (Err(e), leftovers),
            };
            let dir_path = self.root.join(&dir_name);
            for (key, entry) in entries {
                let written = self.document(collection, key, entry).and_then(|document| {
                    self.write_in(&dir, &dir_name, &dir_path, collection, key, &document)
                });
                match written {
                    Ok(leftover) => leftovers.push(leftover),
                    Err(e) => return (Err(e.with_key(key)), leftovers),
                }
            }
            match self.attached(&dir, &dir_name) {
                Ok(true) => return (Ok(()), leftovers),
                Ok(false) => {
                    // Destroyed during the batch: its entries go to the new directory.
                    tracing::debug!("collection directory vanished during a batch; retrying");
                    self.forget_dir(collection);
                }
                Err(e) => return (Err(e), leftovers),
            }
        }
        (Err(vanishing(collection)), leftovers)
    }

    /// Writes `key`'s document in the open directory `dir`: to py-key-value's file or
    /// the overflow one ([`Layout::locate`]), under the collection's lock when its file
    /// name is shared by construction (see [`crate::names`]), so that two such names
    /// written at once by two processes cannot both take the same file.
    fn write_in(
        &self,
        dir: &Arc<OwnedFd>,
        dir_name: &str,
        dir_path: &Path,
        collection: &str,
        key: &str,
        document: &str,
    ) -> Result<Leftover> {
        let _lock = if self.limits.key_shared_by_construction(key) {
            Some(self.lock(dir, dir_name)?)
        } else {
            None
        };
        let file = self.locate(dir, dir_name, collection, key)?.file;
        self.write_file(dir, dir_name, dir_path, &file, document.as_bytes())
    }

    /// Writes the entry file `file` as [`Layout::write_atomic`] does; at `ProcessCrash`
    /// through a spare when there is one, and keeping the replaced file as the next spare.
    ///
    /// Why: a new file per write and an unlink of the old one cost ext4 an inode
    /// allocation and release each, and under sustained writes its allocator scans
    /// past every inode released in the last 30 seconds (measured on this kind of
    /// machine: 40–120 µs per create, where writing over a kept file takes about 11).
    /// The file replaced by a write (now under this process's temporary name, where
    /// nobody opens it) is written over for the next write of the same entry file, but
    /// only under a write lease ([`sys::open_unshared`]): only when no reader still has
    /// it open, and with any late opener held off until it is in place whole. At the
    /// levels that flush, a file is never reused: written over in place, a file that a
    /// power cut moved back under the entry's name could be torn.
    fn write_file(
        &self,
        dir: &Arc<OwnedFd>,
        dir_name: &str,
        dir_path: &Path,
        file: &str,
        bytes: &[u8],
    ) -> Result<Leftover> {
        if self.durability.flushes_files() || self.no_leases.load(Ordering::Relaxed) {
            return self.write_atomic(dir, dir_path, file, bytes);
        }
        let path = || dir_path.join(file);
        let placed = match self.spares.take(dir_name, file) {
            Some(spare) => self
                .write_spare(dir, &spare, file, bytes)
                .map_err(|e| io_error("replace", &path(), e))?,
            None => None,
        };
        let leftover = match placed {
            Some(leftover) => leftover,
            None => self.write_atomic(dir, dir_path, file, bytes)?,
        };
        Ok(match leftover.into_parts() {
            Some((dir, temp)) => match self.spares.keep(dir_name, file, temp) {
                Some((displaced_dir, displaced)) if displaced_dir == dir_name => {
                    Leftover(Some((dir, displaced)))
                }
                Some(displaced) => {
                    remove_spares(&self.root_fd, vec![displaced]);
                    Leftover(None)
                }
                None => Leftover(None),
            },
            None => Leftover(None),
        })
    }

    /// Writes `bytes` over the spare `spare` and puts it in place of `file`. `Ok(None)`
    /// when the spare cannot be used (open elsewhere, gone, no leases here): it is
    /// removed, and the caller writes a new file.
    fn write_spare(
        &self,
        dir: &Arc<OwnedFd>,
        spare: &str,
        file: &str,
        bytes: &[u8],
    ) -> io::Result<Option<Leftover>> {
        let held = match sys::open_unshared(&**dir, spare) {
            sys::Unshared::Held(held) => held,
            unusable => {
                if matches!(unusable, sys::Unshared::NoLeases) {
                    tracing::debug!("no write leases here: every write makes a new file");
                    self.no_leases.store(true, Ordering::Relaxed);
                }
                let _ = sys::remove(&**dir, spare);
                return Ok(None);
            }
        };
        if let Err(e) = sys::rewrite(&held, bytes) {
            drop(held);
            let _ = sys::remove(&**dir, spare);
            return Err(e);
        }
        // The lease goes with `held`, after the exchange: a late opener gets the whole file.
        let replaced = sys::replace(&**dir, spare, file);
        drop(held);
        match replaced {
            Ok(true) => Ok(Some(Leftover(Some((Arc::clone(dir), spare.to_owned()))))),
            Ok(false) => Ok(Some(Leftover(None))),
            // Removed meanwhile by another process's clean-up (an hour-old temporary file).
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                let _ = sys::remove(&**dir, spare);
                Err(e)
            }
        }
    }

    /// Stores `key`'s entry if no live entry is there, atomically against every other
    /// caller of this method in any process on this machine: under an exclusive lock
    /// (`flock`) on the collection's lock file it reads the entry, and writes (temporary
    /// file and rename, flushed as [`Durability`] asks) only when it is absent
    /// or expired. A plain put does not take the lock and is not part of the race.
    pub(crate) fn write_if_absent(
        &self,
        collection: &str,
        key: &str,
        entry: &Entry,
    ) -> Result<bool> {
        let document = self.document(collection, key, entry)?;
        for _ in 0..3 {
            let (dir_name, dir) = self.make_dir(collection)?;
            let lock = self.lock(&dir, &dir_name)?;
            let located = self.locate(&dir, &dir_name, collection, key)?;
            // An entry that could not be read (I/O, or a writer's lease outlasting the
            // wait) may be live: not absent. A file that is not an entry is replaced.
            if let Some(e) = located.error
                && e.kind() != ErrorKind::Deserialization
            {
                return Err(e);
            }
            if located
                .document
                .as_ref()
                .is_some_and(|found| !found.entry.is_expired(SystemTime::now()))
            {
                return Ok(false);
            }
            let dir_path = self.root.join(&dir_name);
            let leftover =
                self.write_atomic(&dir, &dir_path, &located.file, document.as_bytes())?;
            self.sync(&*dir, &dir_path)?;
            if self.attached(&dir, &dir_name)? {
                drop(lock);
                drop(leftover);
                return Ok(true);
            }
            self.forget_dir(collection);
        }
        Err(vanishing(collection))
    }

    /// Whether `dir` is still the collection's directory (not destroyed meanwhile).
    fn attached(&self, dir: &OwnedFd, dir_name: &str) -> Result<bool> {
        sys::still_at(&*self.root_fd, dir_name, dir)
            .map_err(|e| io_error("check", &self.root.join(dir_name), e))
    }

    /// Flushes the collection's directory at `PowerLoss` (once per batch of writes).
    pub(crate) fn sync_collection(&self, collection: &str) -> Result<()> {
        if !self.durability.flushes_directories() {
            return Ok(());
        }
        match self.find_dir(collection)? {
            Some((dir_name, dir)) => self.sync(&*dir, &self.root.join(dir_name)),
            None => Ok(()),
        }
    }

    /// Removes `keys`' entries; returns how many live ones were there. The directory is
    /// flushed once at the end.
    pub(crate) fn remove(&self, collection: &str, keys: &[String]) -> Result<usize> {
        let Some((dir_name, dir)) = self.find_dir(collection)? else {
            return Ok(0);
        };
        let (mut removed, mut taken) = (0, false);
        let mut result = Ok(());
        for key in keys {
            match self.remove_one(&dir, &dir_name, collection, key) {
                Ok(Some(live)) => {
                    removed += usize::from(live);
                    taken = true;
                }
                Ok(None) => {}
                Err(e) => {
                    result = Err(e.with_key(key));
                    break;
                }
            }
        }
        // Nothing taken away, nothing to flush.
        if taken {
            self.sync(&*dir, &self.root.join(&dir_name))?;
        }
        result.map(|()| removed)
    }

    /// Removes one key's file: `None` when there was none, else whether it held a live
    /// entry.
    fn remove_one(
        &self,
        dir: &OwnedFd,
        dir_name: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<bool>> {
        let _lock = if self.limits.key_shared_by_construction(key) {
            Some(self.lock(dir, dir_name)?)
        } else {
            None
        };
        // py-key-value's file, then the overflow one: each is moved aside under a unique
        // name (so that exactly one remover gets it), and put back if it holds another
        // name's entry. Kept spares of these files (older versions) go first.
        for file in [self.limits.key_file(key), self.limits.key_overflow(key)] {
            if let Some(spare) = self.spares.take(dir_name, &file) {
                let _ = sys::remove(dir, &spare);
            }
        }
        for file in [self.limits.key_file(key), self.limits.key_overflow(key)] {
            let path = || self.root.join(dir_name).join(&file);
            let taken = unique(TAKEN_PREFIX);
            if !sys::rename(dir, &file, &taken).map_err(|e| io_error("remove", &path(), e))? {
                continue;
            }
            let live = match self.read_document(dir, &taken, path) {
                Ok(Some(document)) if Self::names_other(&document, collection, key) => {
                    // Not this key's: back in place (unless a newer write came).
                    let _ = sys::link_back(dir, &taken, &file);
                    let _ = sys::remove(dir, &taken);
                    continue;
                }
                Ok(Some(document)) => !document.entry.is_expired(SystemTime::now()),
                _ => false,
            };
            sys::remove(dir, &taken).map_err(|e| io_error("remove", &path(), e))?;
            return Ok(Some(live));
        }
        Ok(None)
    }

    /// The collections' directories: real directories only (links are skipped and
    /// reported), hidden ones (ours in progress) left out.
    fn collection_dirs(&self) -> Result<Vec<String>> {
        let items = sys::list(&*self.root_fd).map_err(|e| io_error("list", &self.root, e))?;
        let mut dirs = Vec::new();
        for item in items {
            if item.name.starts_with('.') {
                continue;
            }
            match item.kind {
                Some(FileType::Directory) => dirs.push(item.name),
                Some(FileType::Symlink) => tracing::warn!(
                    path = %self.root.join(&item.name).display(),
                    "skipping a link in place of a collection directory"
                ),
                _ => {}
            }
        }
        Ok(dirs)
    }

    /// The entries of a collection directory: `(file name, document)` of every file that
    /// reads as an entry; the rest is skipped and reported. Each file is read when the
    /// caller asks for it, so a caller that stops early (a limit reached, a live entry
    /// found) reads no further, and a collection's documents are never all in memory.
    fn documents<'a>(
        &'a self,
        dir: &'a OwnedFd,
        dir_name: &'a str,
    ) -> impl Iterator<Item = (String, Document)> + 'a {
        let items = sys::list(dir).unwrap_or_else(|e| {
            tracing::warn!(path = %self.root.join(dir_name).display(), "skipping an unreadable collection directory: {e}");
            Vec::new()
        });
        items
            .into_iter()
            .filter(|item| !item.name.starts_with('.') && item.name.ends_with(ENTRY_SUFFIX))
            .filter_map(move |item| {
                let path = || self.root.join(dir_name).join(&item.name);
                match self.read_document(dir, &item.name, path) {
                    Ok(Some(document)) => Some((item.name, document)),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!("skipping an unreadable entry file: {e}");
                        None
                    }
                }
            })
    }

    /// Whether `document`, found in `file`, is the entry of a key of `collection` that a
    /// `get` would find there; reports what it skips.
    fn vouch(
        &self,
        dir_name: &str,
        file: &str,
        collection: &str,
        document: &Document,
    ) -> Option<String> {
        let path = || self.root.join(dir_name).join(file);
        let Some(key) = document.key.as_deref() else {
            tracing::debug!(path = %path().display(), "skipping an entry without its key (written by py-key-value, whose file names cannot be turned back into names)");
            return None;
        };
        let filed = self.limits.key_file(key) == file || self.limits.key_overflow(key) == file;
        if document.collection.as_deref() != Some(collection) || !filed {
            tracing::warn!(path = %path().display(), "skipping a file that holds an entry not filed under its name");
            return None;
        }
        Some(key.to_owned())
    }

    /// The keys of live entries, skipping files that cannot be vouched for (logged).
    pub(crate) fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let Some((dir_name, dir)) = self.find_dir(collection)? else {
            return Ok(Vec::new());
        };
        let now = SystemTime::now();
        let limit = limit.unwrap_or(usize::MAX);
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        if limit == 0 {
            return Ok(keys);
        }
        for (file, document) in self.documents(&dir, &dir_name) {
            if document.entry.is_expired(now) {
                continue;
            }
            if let Some(key) = self.vouch(&dir_name, &file, collection, &document)
                && seen.insert(key.clone())
            {
                keys.push(key);
                // Stopped here: the next file is not read.
                if keys.len() >= limit {
                    break;
                }
            }
        }
        Ok(keys)
    }

    /// Whether `name`'s collection is filed in the directory `dir_name` (its own or its
    /// overflow directory).
    fn maps_to(&self, name: &str, dir_name: &str) -> bool {
        self.collection_name(name) == dir_name || self.limits.collection_overflow(name) == dir_name
    }

    /// The collection a directory's info file names, when it maps back to the directory.
    fn info_collection(&self, dir_name: &str) -> Option<String> {
        self.info_owner(dir_name)
            .filter(|name| self.maps_to(name, dir_name))
    }

    /// Names of collections holding at least one live entry that enumeration would list;
    /// a directory that cannot be read is skipped and reported. A directory's entries are
    /// read only until a live one is found.
    pub(crate) fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut names = Vec::new();
        for dir_name in self.collection_dirs()? {
            if names.len() >= limit.unwrap_or(usize::MAX) {
                break;
            }
            let dir = match self.open_dir(&dir_name) {
                Ok(Some(dir)) => dir,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("skipping a collection: {e}");
                    continue;
                }
            };
            let mut documents = self.documents(&dir, &dir_name);
            // The collection: its info file's, else that of the first entry filed here
            // under a name that maps to the directory (that entry is then checked too).
            let (collection, first) = match self.info_collection(&dir_name) {
                Some(name) => (name, None),
                None => {
                    let found = documents.by_ref().find_map(|(file, document)| {
                        let name = document.collection.clone()?;
                        self.maps_to(&name, &dir_name)
                            .then_some((name, (file, document)))
                    });
                    let Some((name, first)) = found else {
                        continue;
                    };
                    (name, Some(first))
                }
            };
            let live = first.into_iter().chain(documents).any(|(file, document)| {
                !document.entry.is_expired(now)
                    && self
                        .vouch(&dir_name, &file, &collection, &document)
                        .is_some()
            });
            if live {
                names.push(collection);
            }
        }
        Ok(names)
    }

    /// Destroys a collection; returns whether it held live entries.
    pub(crate) fn remove_collection(&self, collection: &str) -> Result<bool> {
        let found = self.find_dir(collection);
        self.forget_dir(collection);
        match found? {
            Some((dir_name, _)) => self.destroy_dir(&dir_name, Some(collection)),
            None => Ok(false),
        }
    }

    /// Renames the directory away, removes its info file, then the directory's content.
    fn destroy_dir(&self, dir_name: &str, collection: Option<&str>) -> Result<bool> {
        self.spares.forget_dir(dir_name);
        // A link in the collection's place is refused, like every other operation.
        if self.open_dir(dir_name)?.is_none() {
            let _ = sys::remove(&*self.root_fd, &format!("{dir_name}{INFO_SUFFIX}"));
            return Ok(false);
        }
        let trash = unique(TRASH_PREFIX);
        if !sys::rename(&*self.root_fd, dir_name, &trash)
            .map_err(|e| io_error("remove", &self.root.join(dir_name), e))?
        {
            return Ok(false);
        }
        let _ = sys::remove(&*self.root_fd, &format!("{dir_name}{INFO_SUFFIX}"));
        self.sync(&*self.root_fd, &self.root)?;
        let had_live = match self.open_dir(&trash) {
            Ok(Some(dir)) => {
                let now = SystemTime::now();
                self.documents(&dir, &trash).any(|(_, document)| {
                    !document.entry.is_expired(now)
                        && match (collection, document.collection.as_deref()) {
                            (Some(wanted), Some(found)) => wanted == found,
                            _ => true,
                        }
                })
            }
            _ => false,
        };
        let trash_path = self.root.join(&trash);
        std::fs::remove_dir_all(&trash_path).map_err(|e| io_error("remove", &trash_path, e))?;
        Ok(had_live)
    }

    /// Destroys every collection; returns whether any held live entries.
    pub(crate) fn remove_all(&self) -> Result<bool> {
        self.dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let mut had_live = false;
        for dir_name in self.collection_dirs()? {
            let collection = self.info_collection(&dir_name);
            match self.destroy_dir(&dir_name, collection.as_deref()) {
                Ok(live) => had_live |= live,
                Err(e) => tracing::warn!("could not destroy a collection: {e}"),
            }
        }
        // Info files whose directory is gone.
        if let Ok(items) = sys::list(&*self.root_fd) {
            for item in items {
                if item.name.ends_with(INFO_SUFFIX) && item.kind == Some(FileType::RegularFile) {
                    let _ = sys::remove(&*self.root_fd, &item.name);
                }
            }
        }
        self.sync(&*self.root_fd, &self.root)?;
        Ok(had_live)
    }

    /// Removes expired entries, and what killed writers left behind. A collection that
    /// cannot be read is skipped and reported; the others are culled.
    pub(crate) fn remove_expired(&self) -> Result<()> {
        let now = SystemTime::now();
        for dir_name in self.collection_dirs()? {
            let dir = match self.open_dir(&dir_name) {
                Ok(Some(dir)) => dir,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("cull skips a collection: {e}");
                    continue;
                }
            };
            for (file, document) in self.documents(&dir, &dir_name) {
                if document.entry.is_expired(now)
                    && let Err(e) = self.remove_if_still_expired(&dir, &dir_name, &file)
                {
                    tracing::warn!("cull could not remove an expired entry: {e}");
                }
            }
            self.remove_abandoned_in(&dir);
        }
        self.remove_abandoned_in(&self.root_fd);
        Ok(())
    }

    /// Takes an expired entry out; if another process rewrote it meanwhile, puts the new
    /// entry back unless an even newer one has arrived.
    fn remove_if_still_expired(&self, dir: &OwnedFd, dir_name: &str, file: &str) -> Result<()> {
        let path = || self.root.join(dir_name).join(file);
        let taken = unique(TAKEN_PREFIX);
        if !sys::rename(dir, file, &taken).map_err(|e| io_error("remove", &path(), e))? {
            return Ok(());
        }
        let live = matches!(
            self.read_document(dir, &taken, path),
            Ok(Some(document)) if !document.entry.is_expired(SystemTime::now())
        );
        if live {
            // link refuses to replace an existing file: a newer write wins.
            let _ = sys::link_back(dir, &taken, file);
        }
        sys::remove(dir, &taken).map_err(|e| io_error("remove", &path(), e))?;
        Ok(())
    }

    /// Removes what killed writers left in the root and every collection directory.
    fn remove_abandoned(&self) {
        if let Ok(dirs) = self.collection_dirs() {
            for dir_name in dirs {
                if let Ok(Some(dir)) = self.open_dir(&dir_name) {
                    self.remove_abandoned_in(&dir);
                }
            }
        }
        self.remove_abandoned_in(&self.root_fd);
    }

    /// Removes the leftovers in `dir` that no live writer can own (see [`abandoned`]).
    fn remove_abandoned_in(&self, dir: &OwnedFd) {
        let Ok(items) = sys::list(dir) else { return };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        for item in items {
            let candidate = item.name.starts_with(".kv") || item.name.starts_with("tmp");
            if !candidate || item.name == LOCK_FILE {
                continue;
            }
            let Some(modified) = sys::modified_secs(dir, &item.name) else {
                continue;
            };
            let age = Duration::from_secs(now.saturating_sub(u64::try_from(modified).unwrap_or(0)));
            if !abandoned(&item.name, age) {
                continue;
            }
            match item.kind {
                Some(FileType::Directory) => {
                    if let Ok(Some(trash)) = sys::open_dir(dir, &item.name) {
                        self.empty_dir(&trash);
                        let _ = rustix::fs::unlinkat(
                            dir,
                            item.name.as_str(),
                            rustix::fs::AtFlags::REMOVEDIR,
                        );
                    }
                }
                Some(FileType::RegularFile) => {
                    let _ = sys::remove(dir, &item.name);
                }
                _ => {}
            }
        }
    }

    /// Removes the files of a trash directory (collection directories hold no
    /// subdirectories of ours).
    fn empty_dir(&self, dir: &OwnedFd) {
        if let Ok(items) = sys::list(dir) {
            for item in items {
                if item.kind != Some(FileType::Directory) {
                    let _ = sys::remove(dir, &item.name);
                }
            }
        }
    }

    /// Writes `name` in `dir` (at `dir_path`) as a whole: temporary file, flush (unless
    /// at `ProcessCrash`), atomic replace.
    fn write_atomic(
        &self,
        dir: &Arc<OwnedFd>,
        dir_path: &Path,
        name: &str,
        bytes: &[u8],
    ) -> Result<Leftover> {
        let temp = unique(TEMP_PREFIX);
        let path = || dir_path.join(name);
        sys::create_file(&**dir, &temp, bytes, self.durability.flushes_files())
            .map_err(|e| io_error("write", &path(), e))?;
        match sys::replace(&**dir, &temp, name) {
            Ok(true) => Ok(Leftover(Some((Arc::clone(dir), temp)))),
            Ok(false) => Ok(Leftover(None)),
            Err(e) => {
                let _ = sys::remove(&**dir, &temp);
                Err(io_error("replace", &path(), e))
            }
        }
    }

    /// Makes renames in `dir` durable, when the store promises durability past power loss.
    fn sync(&self, dir: &impl AsFd, path: &Path) -> Result<()> {
        if self.durability.flushes_directories() {
            sys::sync(dir).map_err(|e| io_error("flush", path, e))?;
        }
        Ok(())
    }
}

/// The error for a collection whose directory another process keeps destroying while
/// this one writes to it.
fn vanishing(collection: &str) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the directory of collection {collection:?} keeps vanishing"),
    )
}

/// A name shortened for an error message.
fn truncate(name: &str) -> String {
    match name.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}

fn create_private_dir_all(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code

    use super::*;

    fn name_for(prefix: &str, pid: u32, tag: &str) -> String {
        format!("{prefix}{pid}-{tag}-00000000000000ff")
    }

    fn age(path: &Path, by: Duration) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn leftovers_of_dead_writers_go_at_once_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let layout = Layout::open(root.clone(), Durability::ProcessCrash, 1 << 20).unwrap();
        let entry = Entry::new(JsonObject::new(), None, SystemTime::now()).unwrap();
        drop(layout.write("c", "k", &entry, false).unwrap());
        let collection = layout.entry_file("c", "k").parent().unwrap().to_owned();
        let root = layout.root.clone();
        drop(layout);

        // A writer that has exited: its PID runs no more.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let (own_pid, tag) = owner();
        let dead_temp = collection.join(name_for(TEMP_PREFIX, dead, tag));
        let dead_taken = collection.join(name_for(TAKEN_PREFIX, dead, tag));
        let live_temp = collection.join(name_for(TEMP_PREFIX, *own_pid, tag));
        let foreign_temp = collection.join(name_for(TEMP_PREFIX, dead, "ffffffff"));
        let python_temp = collection.join("tmpabcd1234.tmp");
        let dead_trash = root.join(name_for(TRASH_PREFIX, dead, tag));
        for file in [
            &dead_temp,
            &dead_taken,
            &live_temp,
            &foreign_temp,
            &python_temp,
        ] {
            std::fs::write(file, "x").unwrap();
        }
        std::fs::create_dir(&dead_trash).unwrap();
        std::fs::write(dead_trash.join("entry.json"), "{}").unwrap();

        // Opening removes what dead writers of this machine left, at once.
        let layout = Layout::open(root.clone(), Durability::ProcessCrash, 1 << 20).unwrap();
        assert!(!dead_temp.exists());
        assert!(!dead_taken.exists());
        assert!(!dead_trash.exists());
        // A live writer's file, one from another machine or namespace, and Python's
        // (which names no writer) stay while they are young.
        assert!(live_temp.exists());
        assert!(foreign_temp.exists());
        assert!(python_temp.exists());

        // cull removes them once past their grace.
        age(&foreign_temp, FOREIGN_GRACE + Duration::from_secs(5));
        age(&python_temp, STALE_AFTER + Duration::from_secs(5));
        layout.remove_expired().unwrap();
        assert!(!foreign_temp.exists());
        assert!(!python_temp.exists());
        assert!(live_temp.exists());
        assert!(layout.read("c", "k").unwrap().is_some());
    }
}
