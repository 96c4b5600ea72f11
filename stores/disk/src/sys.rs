//! The few file operations the store makes, each relative to an open directory handle so
//! that no path is resolved twice and no link is followed: a directory is opened with
//! `O_DIRECTORY | O_NOFOLLOW`, a file with `O_NOFOLLOW | O_NONBLOCK` and its type checked
//! on the opened handle (`fstat`), so a named pipe, socket, device or link where an entry
//! belongs is refused at once instead of being read, followed or waited on.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Why a file could not be opened or read as an entry.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A symbolic link: never followed.
    Link,
    /// Not a regular file (pipe, socket, device, directory).
    NotRegular(&'static str),
    /// Not a directory where one belongs.
    NotDirectory(&'static str),
    /// Larger than the limit, in bytes.
    TooLarge(usize),
    /// Held under a writer's lease for longer than a read waits.
    Busy,
    /// Any other I/O error.
    Io(io::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Link => f.write_str("it is a symbolic link, which the store never follows"),
            Refused::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            Refused::NotDirectory(kind) => write!(f, "it is a {kind}, not a directory"),
            Refused::TooLarge(limit) => write!(f, "it is larger than the limit of {limit} bytes"),
            Refused::Busy => write!(
                f,
                "a writer has held it under a lease for over {} s",
                LEASE_WAIT.as_secs()
            ),
            Refused::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<Errno> for Refused {
    fn from(e: Errno) -> Self {
        Refused::Io(e.into())
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "directory",
        FileType::Fifo => "named pipe",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Symlink => "symbolic link",
        _ => "special file",
    }
}

/// Opens the directory `name` in `parent` without following a link. `Ok(None)` when it
/// does not exist; a link or a non-directory is refused.
pub(crate) fn open_dir(parent: impl AsFd, name: &str) -> Result<Option<OwnedFd>, Refused> {
    let parent = parent.as_fd();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(Errno::LOOP) => Err(Refused::Link),
        // Linux answers ENOTDIR for a link too (O_DIRECTORY is checked first): say which.
        Err(Errno::NOTDIR) => {
            let kind = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|stat| FileType::from_raw_mode(stat.st_mode))
                .unwrap_or(FileType::Unknown);
            Err(match kind {
                FileType::Symlink => Refused::Link,
                FileType::RegularFile => Refused::NotDirectory("regular file"),
                other => Refused::NotDirectory(kind_name(other)),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens a directory by path (the store's root, which may be reached through links).
pub(crate) fn open_root(path: &std::path::Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// Creates the directory `name` in `parent`, owner-only; `Ok(false)` if it was there.
pub(crate) fn make_dir(parent: impl AsFd, name: &str) -> io::Result<bool> {
    match rustix::fs::mkdirat(parent, name, Mode::RWXU) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// How long a read waits for a writer's lease on a file to go: a rewrite under the
/// store's lease takes microseconds, but its writer may be descheduled meanwhile (a
/// throttled container, a stopped process). The read waits with growing pauses (50 µs,
/// doubling, at most 10 ms apart) for up to 2 s, then fails with [`Refused::Busy`].
const LEASE_WAIT: Duration = Duration::from_secs(2);
const LEASE_PAUSE_FIRST: Duration = Duration::from_micros(50);
const LEASE_PAUSE_MAX: Duration = Duration::from_millis(10);

/// Opens the regular file `name` in `dir` for reading, never following a link and never
/// waiting on a pipe or device. `Ok(None)` when it does not exist.
pub(crate) fn open_regular(dir: impl AsFd, name: &str) -> Result<Option<File>, Refused> {
    let dir = dir.as_fd();
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let (mut pause, mut waited) = (LEASE_PAUSE_FIRST, Duration::ZERO);
    let fd = loop {
        match rustix::fs::openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => break fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(Refused::Link),
            // A writer holds the file under a lease for a rewrite (see `open_unshared`);
            // a non-blocking open is refused meanwhile.
            Err(Errno::AGAIN) if waited < LEASE_WAIT => {
                std::thread::sleep(pause);
                waited += pause;
                pause = (pause * 2).min(LEASE_PAUSE_MAX);
            }
            Err(Errno::AGAIN) => return Err(Refused::Busy),
            Err(e) => return Err(e.into()),
        }
    };
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
    if kind != FileType::RegularFile {
        return Err(Refused::NotRegular(kind_name(kind)));
    }
    Ok(Some(File::from(fd)))
}

/// Reads the regular file `name` in `dir`, at most `limit` bytes (reading `limit + 1` to
/// tell). `Ok(None)` when it does not exist.
pub(crate) fn read_regular(
    dir: impl AsFd,
    name: &str,
    limit: usize,
) -> Result<Option<Vec<u8>>, Refused> {
    let Some(file) = open_regular(dir, name)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(Refused::Io)?;
    if bytes.len() > limit {
        return Err(Refused::TooLarge(limit));
    }
    Ok(Some(bytes))
}

/// Creates `name` in `dir` (which must not exist), owner-only, and writes `bytes` to it,
/// flushing it to stable storage when `sync`. The file is removed again on failure.
pub(crate) fn create_file(dir: impl AsFd, name: &str, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = dir.as_fd();
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut file = File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::RUSR | Mode::WUSR,
    )?);
    let written = file
        .write_all(bytes)
        .and_then(|()| if sync { file.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        let _ = remove(dir, name);
        return Err(e);
    }
    Ok(())
}

/// Opens the file `name` in `dir` (one of this process's temporary files) to write over
/// it, but only if no other open file in any process refers to it, and keeps it that way
/// until the returned file is closed ([`Unshared::Held`]).
///
/// On Linux this is a write lease (`fcntl(F_SETLEASE, F_WRLCK)`, see `F_SETLEASE(2const)`):
/// the kernel grants it only when the file has no other open file description, and while
/// it is held anyone else's `open` of the file waits, or fails with `EWOULDBLOCK` under
/// `O_NONBLOCK` (which [`open_regular`] retries), until the lease goes with the file's
/// close. Someone's `open` arriving is signalled to the lease holder: with `SIGURG`
/// (`F_SETSIG`), which is ignored unless a program handles it, instead of the default
/// `SIGIO`, which would end the process.
///
/// Only a file that is this process's to rewrite is taken: a regular file with no other
/// name (a hard link, from a backup tool for example, would see it change) and the
/// store's owner-only mode. Anything else, and any error, is [`Unshared::Unusable`]:
/// the caller writes a new file instead.
pub(crate) fn open_unshared(dir: impl AsFd, name: &str) -> Unshared {
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    // Gone, or still under the lease of the writer that put it in place (another
    // process's, or another thread's that swapped it out and has not closed it yet),
    // or no longer writable: unusable alike.
    let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) else {
        return Unshared::Unusable;
    };
    let Ok(stat) = rustix::fs::fstat(&fd) else {
        return Unshared::Unusable;
    };
    let private = Mode::from_raw_mode(stat.st_mode)
        & Mode::RWXU.union(Mode::RWXG).union(Mode::RWXO)
        == Mode::RUSR | Mode::WUSR;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile
        || stat.st_nlink != 1
        || !private
    {
        return Unshared::Unusable;
    }
    let file = File::from(fd);
    match lease::take(&file) {
        Ok(()) => Unshared::Held(file),
        // Open elsewhere, or (EACCES) a file of another owner.
        Err(Errno::AGAIN | Errno::ACCESS | Errno::PERM) => Unshared::Unusable,
        Err(_) => Unshared::NoLeases,
    }
}

/// What [`open_unshared`] found.
pub(crate) enum Unshared {
    /// The file, open for writing, with no other open file referring to it.
    Held(File),
    /// Gone, not a regular file, linked elsewhere, not owner-only, open elsewhere, under
    /// another writer's lease, or another owner's.
    Unusable,
    /// Leases are unavailable here (a file system without them, `fs.leases-enable = 0`,
    /// not Linux): no file can be known unshared.
    NoLeases,
}

/// Writes `bytes` over the whole of `file`, which [`open_unshared`] opened.
pub(crate) fn rewrite(file: &File, bytes: &[u8]) -> io::Result<()> {
    file.write_all_at(bytes, 0)?;
    file.set_len(bytes.len() as u64)
}

/// The write lease of [`open_unshared`]: the one place the store calls the C library
/// itself, because neither `rustix` nor `nix` wraps `F_SETLEASE`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod lease {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    use rustix::io::Errno;

    /// `F_SETSIG` of `<asm-generic/fcntl.h>`, 10 on every Linux architecture (the `libc`
    /// crate does not export it).
    const F_SETSIG: libc::c_int = 10;

    /// Takes a write lease on `file`, announcing its breaks with `SIGURG`. `EAGAIN` when
    /// another open file refers to it.
    pub(super) fn take(file: &File) -> Result<(), Errno> {
        let fd = file.as_raw_fd();
        // SAFETY: `fcntl` with integer arguments only, on a descriptor that `file` owns
        // and keeps open for the duration of both calls; no memory is shared.
        let taken = unsafe {
            libc::fcntl(fd, F_SETSIG, libc::SIGURG) == 0
                && libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK) == 0
        };
        if taken {
            Ok(())
        } else {
            Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
        }
    }
}

/// Without Linux's leases there is no way to know that no one has a file open.
#[cfg(not(target_os = "linux"))]
mod lease {
    pub(super) fn take(_file: &std::fs::File) -> Result<(), rustix::io::Errno> {
        Err(rustix::io::Errno::NOSYS)
    }
}

/// Opens (creating it, owner-only) the lock file `name` in `dir`.
pub(crate) fn open_lock(dir: impl AsFd, name: &str) -> io::Result<File> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::RUSR | Mode::WUSR)?;
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
    if kind != FileType::RegularFile {
        return Err(io::Error::other(format!(
            "the lock file is a {}",
            kind_name(kind)
        )));
    }
    Ok(File::from(fd))
}

/// Takes an exclusive `flock` on `file`, waiting for it; released when the file is
/// closed (the lock belongs to the open file, so it holds across processes and threads).
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    Ok(rustix::fs::flock(
        file,
        rustix::fs::FlockOperation::LockExclusive,
    )?)
}

/// Puts `from` in place of `to`, both in `dir`, in one atomic step. Returns whether the
/// old `to` is now at `from` (to be unlinked by the caller).
///
/// On Linux the two are exchanged (`renameat2(RENAME_EXCHANGE)`): readers see the old
/// file or the new one, as with a rename, but ext4 does not force the new file's data
/// out first as it does when a rename replaces a file (measured: about 1.5 ms against
/// 0.1 ms per replace). Where exchange is unavailable, or `to` does not exist yet, a
/// rename does the same job.
pub(crate) fn replace(dir: impl AsFd, from: &str, to: &str) -> io::Result<bool> {
    let dir = dir.as_fd();
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::RenameFlags;
        match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(true),
            Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    rustix::fs::renameat(dir, from, dir, to)?;
    Ok(false)
}

/// Renames `from` to `to` in `dir`; `Ok(false)` when `from` does not exist.
pub(crate) fn rename(dir: impl AsFd, from: &str, to: &str) -> io::Result<bool> {
    let dir = dir.as_fd();
    match rustix::fs::renameat(dir, from, dir, to) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Links `from` as `to` in `dir` unless `to` exists (then `Ok(false)`).
pub(crate) fn link_back(dir: impl AsFd, from: &str, to: &str) -> io::Result<bool> {
    let dir = dir.as_fd();
    match rustix::fs::linkat(dir, from, dir, to, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Unlinks the file `name` in `dir`; `Ok(false)` when it does not exist.
pub(crate) fn remove(dir: impl AsFd, name: &str) -> io::Result<bool> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Flushes `fd` (a file or a directory's entries) to stable storage.
pub(crate) fn sync(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::fsync(fd)?)
}

/// Whether `dir` is still the directory `name` in `parent` (not renamed away or replaced).
pub(crate) fn still_at(parent: impl AsFd, name: &str, dir: impl AsFd) -> io::Result<bool> {
    let held = rustix::fs::fstat(dir)?;
    match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(there) => Ok(there.st_dev == held.st_dev && there.st_ino == held.st_ino),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Modification time of `name` in `dir` (not following a link), in seconds since the epoch.
pub(crate) fn modified_secs(dir: impl AsFd, name: &str) -> Option<i64> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|stat| stat.st_mtime)
}

/// The longest file name the file system of `dir` accepts (`NAME_MAX`), in bytes.
pub(crate) fn name_max(dir: impl AsFd) -> io::Result<usize> {
    let stats = rustix::fs::fstatvfs(dir)?;
    Ok(usize::try_from(stats.f_namemax).unwrap_or(usize::MAX))
}

/// One item of a directory listing.
pub(crate) struct Item {
    /// Its name, when valid UTF-8 (the store never makes other names).
    pub(crate) name: String,
    /// Its type as listed without following links (`None` when the file system does not
    /// say; then it was looked up with `fstatat`).
    pub(crate) kind: Option<FileType>,
}

/// The items of `dir` (without `.` and `..`; names that are not UTF-8 left out).
pub(crate) fn list(dir: impl AsFd) -> io::Result<Vec<Item>> {
    let dir = dir.as_fd();
    let mut items = Vec::new();
    for item in rustix::fs::Dir::read_from(dir)? {
        let item = item?;
        let raw = item.file_name().to_bytes();
        if raw == b"." || raw == b".." {
            continue;
        }
        let Some(name) = OsStr::from_bytes(raw).to_str() else {
            continue;
        };
        let kind = match item.file_type() {
            FileType::Unknown => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .map(|stat| FileType::from_raw_mode(stat.st_mode)),
            kind => Some(kind),
        };
        items.push(Item {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(items)
}

/// Whether the process `pid` is running (on this machine, in this PID namespace).
pub(crate) fn process_alive(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    // EPERM: it exists and belongs to someone else.
    !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH))
}
