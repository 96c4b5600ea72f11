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
use std::time::Duration;

use key_value_core::{Error, ErrorKind, Result};
use rusqlite::{Connection, OpenFlags};

use crate::{SqliteStoreBuilder, configure};

pub(crate) struct Pool {
    path: PathBuf,
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    busy_timeout: Duration,
}

impl Pool {
    /// Opens `settings.connections` connections; the first creates or checks the table.
    pub(crate) fn open(settings: &SqliteStoreBuilder) -> Result<Self> {
        create_private_file(&settings.path)?;
        let mut connections = Vec::with_capacity(settings.connections);
        for i in 0..settings.connections {
            let connection = Connection::open_with_flags(
                &settings.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
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
            busy_timeout: settings.busy_timeout,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn size(&self) -> usize {
        self.connections.len()
    }

    /// Runs a quick read on the calling thread if a connection is free at once, with
    /// SQLite's busy wait switched off so it can never block the caller. `None` when no
    /// connection was free or the database was busy: run the read on the blocking pool.
    pub(crate) fn try_inline<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T>,
    ) -> Option<Result<T>> {
        let connection = self
            .connections
            .iter()
            .find_map(|slot| slot.try_lock().ok())?;
        connection.busy_timeout(Duration::ZERO).ok()?;
        let result = work(&connection);
        if connection.busy_timeout(self.busy_timeout).is_err() {
            tracing::warn!("could not restore the busy timeout of a connection");
        }
        match result {
            // Busy or locked: the blocking path waits for the lock instead.
            Err(e) if e.is_retryable() => None,
            other => Some(other),
        }
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

/// Creates a new database file readable by its owner only (SQLite gives its `-wal` and
/// `-shm` files the same permissions); an existing file is left as it is.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::new(
            ErrorKind::Setup,
            format!("could not create {}", path.display()),
        )
        .with_store("sqlite")
        .with_source(e)),
    }
}
