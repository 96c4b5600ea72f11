//! A few connections to one database file, shared by blocking calls.
//!
//! A `rusqlite::Connection` serves one thread at a time. With WAL, readers on separate
//! connections do not wait for each other or for a writer, so calls take whichever
//! connection is free and only wait when all are busy. Single-entry reads run on the
//! calling thread when they cannot block (a free connection, no busy wait): handing a
//! 3 µs lookup to the blocking pool costs about 15 µs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use key_value_core::{Error, ErrorKind, Result};
use rusqlite::{Connection, OpenFlags};

use crate::{SqliteStoreBuilder, configure};

pub(crate) struct Pool {
    path: PathBuf,
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Pool {
    /// Opens `settings.connections` connections; the first creates or checks the table.
    pub(crate) fn open(settings: &SqliteStoreBuilder) -> Result<Self> {
        prepare_file(&settings.path)?;
        let name = sqlite_name(&settings.path);
        let mut connections = Vec::with_capacity(settings.connections);
        for i in 0..settings.connections {
            // No SQLITE_OPEN_URI, and not SQLITE_OPEN_CREATE either: the file exists
            // (prepare_file made it owner-only); should it vanish, the open fails rather
            // than create one with SQLite's default mode.
            let connection = Connection::open_with_flags(
                &name,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::Setup,
                    format!(
                        "could not open {}: {}",
                        settings.path.display(),
                        crate::describe(&e)
                    ),
                )
                .with_store("sqlite")
                .with_source(e)
            })?;
            configure(&connection, settings, i == 0)?;
            connections.push(Mutex::new(connection));
        }
        Ok(Pool {
            path: settings.path.clone(),
            connections,
            next: AtomicUsize::new(0),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn size(&self) -> usize {
        self.connections.len()
    }

    /// Runs `work` on a free connection, or waits for one in turn.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        for slot in &self.connections {
            if let Ok(mut connection) = slot.try_lock() {
                return work(&mut connection);
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len().max(1);
        let Some(slot) = self.connections.get(turn) else {
            return Err(Error::new(
                ErrorKind::Backend,
                "the store has no connection",
            ));
        };
        // A panic elsewhere mid-call leaves SQLite consistent (it rolls back), so a
        // poisoned lock's connection is still usable.
        let mut connection = slot.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut connection)
    }
}

fn refuse(message: String) -> Error {
    Error::new(ErrorKind::Setup, message).with_store("sqlite")
}

/// What a file system object is, for messages.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a named pipe";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Makes sure `path` is a regular file SQLite may open, creating it owner-only (0600)
/// when nothing is there.
///
/// - Nothing there: the file is created with `O_CREAT | O_EXCL` (which never follows a
///   link) and mode 0600 whatever the umask. SQLite then gives the `-wal` and `-shm`
///   files it creates beside it the database file's mode, so they are 0600 too.
/// - A symbolic link to an existing regular file: used (a user may keep the database
///   elsewhere); SQLite resolves the link and keeps its `-wal` and `-shm` beside the
///   target.
/// - A dangling link: refused. Following it would create the database wherever the
///   link points, with SQLite's default mode (0644 less the umask).
/// - A directory, named pipe, socket or device, directly or through a link: refused
///   (SQLite would fail late, or block for ever reading a pipe). The same holds for an
///   existing `-wal`, `-shm` or `-journal` file beside the database.
fn prepare_file(path: &Path) -> Result<()> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return create_private_file(path),
        Err(e) => {
            return Err(refuse(format!("cannot look at {shown}: {e}")).with_source(e));
        }
        Ok(meta) if meta.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(target) if target.is_file() => {}
            Ok(target) => {
                return Err(refuse(format!(
                    "{shown} is a symbolic link to {}, not to a database file",
                    kind_of(target.file_type())
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let target = std::fs::read_link(path)
                    .map(|t| format!(" to {}", t.display()))
                    .unwrap_or_default();
                return Err(refuse(format!(
                    "{shown} is a symbolic link{target} that leads to nothing; refusing to \
                     create a database through a link (create the file first, or name \
                     the path itself)"
                )));
            }
            Err(e) => {
                return Err(refuse(format!("cannot follow the link {shown}: {e}")).with_source(e));
            }
        },
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => {
            return Err(refuse(format!(
                "{shown} is {}, not a database file",
                kind_of(meta.file_type())
            )));
        }
    }
    check_companions(path)
}

/// Refuses a `-wal`, `-shm` or `-journal` beside the (resolved) database that is not a
/// regular file.
fn check_companions(path: &Path) -> Result<()> {
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| refuse(format!("cannot resolve {}: {e}", path.display())).with_source(e))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = resolved.as_os_str().to_owned();
        name.push(suffix);
        let companion = PathBuf::from(name);
        match std::fs::symlink_metadata(&companion) {
            Ok(meta) if meta.is_file() => {}
            Ok(meta) => {
                return Err(refuse(format!(
                    "{} is {}, where SQLite keeps the database's {suffix} file",
                    companion.display(),
                    kind_of(meta.file_type())
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    refuse(format!("cannot look at {}: {e}", companion.display())).with_source(e),
                );
            }
        }
    }
    Ok(())
}

/// The name SQLite is given for `path`: always a plain file name. The bundled SQLite is
/// built with URI file names switched on (`SQLITE_USE_URI`), so a name that begins with
/// `file:` would be read as a URI even without `SQLITE_OPEN_URI`, and `:memory:` (or an
/// empty name) is an in-memory (or temporary) database. A relative path is handed over
/// as `./PATH`, which SQLite reads as a file whatever its first characters.
pub(crate) fn sqlite_name(path: &Path) -> PathBuf {
    if path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// Creates a new database file readable and writable by its owner only (0600, whatever
/// the umask). Another process creating it first is fine: the file is then checked as
/// an existing one.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(file) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| {
                        refuse(format!("cannot make {} owner-only: {e}", path.display()))
                            .with_source(e)
                    })?;
            }
            drop(file);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            match std::fs::symlink_metadata(path) {
                // Created by another process in between: check it as an existing file.
                Ok(meta) if meta.is_file() => check_companions(path),
                _ => prepare_file_once_more(path),
            }
        }
        Err(e) => Err(refuse(format!("could not create {}: {e}", path.display())).with_source(e)),
    }
}

/// [`prepare_file`] for a path that changed under us; a second change is an error rather
/// than a loop.
fn prepare_file_once_more(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => prepare_file(path),
        Err(e) => Err(refuse(format!(
            "{} changed while it was opened: {e}",
            path.display()
        ))),
    }
}
