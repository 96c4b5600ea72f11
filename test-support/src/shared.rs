//! Servers shared by every test process of a run.
//!
//! cargo-nextest runs each test in its own process. A server that takes seconds to
//! start (a DynamoDB emulator, a Redis Cluster) would cost that much per test, so the
//! first process starts it and records its address under `target/tmp/NAME/`; later
//! processes reuse it. Each user process refreshes a lease file while it lives, and a
//! small detached watchdog stops the server's processes once the lease has not been
//! refreshed for [`LEASE_SECONDS`], so nothing outlives the test run for long.
//!
//! Tests on a shared server must keep to their own collections and never wipe the
//! whole store: the conformance suite's `Fixture::shared`.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

/// How long a shared server outlives the last refresh of its lease.
const LEASE_SECONDS: u64 = 30;
/// How often a user process refreshes the lease.
const LEASE_REFRESH: Duration = Duration::from_secs(5);
/// A lease older than this is not trusted: its watchdog may be stopping the server.
const LEASE_TRUSTED: Duration = Duration::from_secs(LEASE_SECONDS - 10);

/// A server that [`shared`] started: its processes and the address tests use.
pub(crate) struct Started {
    /// Every process to stop when the lease runs out.
    pub pids: Vec<u32>,
    /// What tests connect to (a URL, or several joined by commas).
    pub address: String,
}

/// The address of the server `name` that this run's test processes share, started by
/// `start` (which gets a fresh directory of its own) when none runs yet. `alive` tells
/// whether a recorded address still answers as the server it names. Panics with `test`
/// in the message when the server cannot be started or another process takes too long
/// to start it (`start_timeout`).
pub(crate) fn shared(
    name: &str,
    test: &str,
    start_timeout: Duration,
    alive: impl Fn(&str) -> bool,
    start: impl FnOnce(&Path) -> Started,
) -> String {
    let dir = scratch_dir(name);
    let address_file = dir.join("address");
    let lease = dir.join("lease");
    let lock = dir.join("starting");
    let deadline = Instant::now() + start_timeout;
    loop {
        if let Some(address) = recorded(&address_file, &lease, &alive) {
            keep_alive(&lease);
            return address;
        }
        // Whoever creates the lock directory starts the server; the others wait.
        if fs::create_dir(&lock).is_ok() {
            let _unlock = Unlock(lock.clone()); // also when starting panics
            let address = start_and_record(name, test, &dir, start);
            keep_alive(&lease);
            return address;
        }
        if age(&lock).is_some_and(|age| age > start_timeout) {
            let _ = fs::remove_dir(&lock); // left by a process that died while starting
        }
        if Instant::now() > deadline {
            panic!(
                "{test}: another test process has been starting the shared {name} for over {} s",
                start_timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `target/tmp/NAME/`, created if need be.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = crate::workspace_root().join("target/tmp").join(name);
    if let Err(e) = fs::create_dir_all(&dir) {
        panic!("could not create {}: {e}", dir.display());
    }
    dir
}

/// Removes the start lock directory when dropped.
struct Unlock(PathBuf);

impl Drop for Unlock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// The recorded address, if its lease is fresh and the server still answers.
fn recorded(address_file: &Path, lease: &Path, alive: impl Fn(&str) -> bool) -> Option<String> {
    if age(lease).is_none_or(|age| age > LEASE_TRUSTED) {
        return None;
    }
    let address = fs::read_to_string(address_file).ok()?;
    let address = address.trim();
    alive(address).then(|| address.to_owned())
}

fn start_and_record(
    name: &str,
    test: &str,
    dir: &Path,
    start: impl FnOnce(&Path) -> Started,
) -> String {
    let lease = dir.join("lease");
    touch(&lease);
    // A fresh directory for the server's files: what an earlier run left is stale.
    let files = dir.join("server");
    let _ = fs::remove_dir_all(&files);
    if let Err(e) = fs::create_dir_all(&files) {
        panic!("{test}: could not create {}: {e}", files.display());
    }
    let started = start(&files);
    // The watchdog stops the server once no test process has refreshed the lease for
    // LEASE_SECONDS (or once its first process is gone); it runs detached, so this
    // process may end first.
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(
            "lease=$1; seconds=$2; shift 2; \
             while sleep 2; do \
                 kill -0 \"$1\" 2>/dev/null || break; \
                 age=$(( $(date +%s) - $(stat -c %Y \"$lease\" 2>/dev/null || echo 0) )); \
                 [ \"$age\" -lt \"$seconds\" ] || break; \
             done; \
             kill \"$@\" 2>/dev/null",
        )
        .arg(format!("keyvalue-{name}-watchdog"))
        .arg(&lease)
        .arg(LEASE_SECONDS.to_string())
        .args(started.pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = watchdog {
        panic!("{test}: could not start the watchdog of the shared {name}: {e}");
    }
    let record = dir.join(format!("address.{}", std::process::id()));
    if let Err(e) =
        fs::write(&record, &started.address).and_then(|()| fs::rename(&record, dir.join("address")))
    {
        panic!("{test}: could not record the address of the shared {name}: {e}");
    }
    started.address
}

fn age(path: &Path) -> Option<Duration> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default(),
    )
}

fn touch(path: &Path) {
    let _ = File::create(path);
}

/// Refreshes the lease now and, from a background thread, for as long as this process
/// lives.
fn keep_alive(lease: &Path) {
    /// Every lease this process holds, refreshed by one thread.
    static LEASES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static REFRESHER: Once = Once::new();
    touch(lease);
    if let Ok(mut leases) = LEASES.lock()
        && !leases.iter().any(|known| known == lease)
    {
        leases.push(lease.to_owned());
    }
    REFRESHER.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(LEASE_REFRESH);
                let Ok(leases) = LEASES.lock() else { return };
                leases.iter().for_each(|lease| touch(lease));
            }
        });
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A "server" for the tests: a process that sleeps, so the watchdog has one to stop.
    fn sleeper() -> u32 {
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
            .id()
    }

    #[test]
    fn the_first_caller_starts_and_later_ones_reuse() {
        let name = format!("shared-test-{}", std::process::id());
        let starts = AtomicUsize::new(0);
        let start = |dir: &Path| {
            assert!(dir.is_dir(), "start gets a fresh directory");
            starts.fetch_add(1, Ordering::SeqCst);
            Started {
                pids: vec![sleeper()],
                address: "address-1".into(),
            }
        };
        let alive = |address: &str| address == "address-1";
        let timeout = Duration::from_secs(10);
        assert_eq!(shared(&name, "test", timeout, alive, start), "address-1");
        assert_eq!(shared(&name, "test", timeout, alive, start), "address-1");
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        // A server that stopped answering is started again.
        let dead = |_: &str| false;
        assert_eq!(shared(&name, "test", timeout, dead, start), "address-1");
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let _ = fs::remove_dir_all(scratch_dir(&name));
    }

    #[test]
    fn an_old_lease_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (address, lease) = (dir.path().join("address"), dir.path().join("lease"));
        fs::write(&address, "address-1\n").unwrap();
        assert_eq!(recorded(&address, &lease, |_| true), None, "no lease");
        touch(&lease);
        assert_eq!(
            recorded(&address, &lease, |_| true).as_deref(),
            Some("address-1")
        );
        assert_eq!(recorded(&address, &lease, |_| false), None, "not answering");
        let old = SystemTime::now() - LEASE_TRUSTED - Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&lease)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(recorded(&address, &lease, |_| true), None, "old lease");
    }
}
