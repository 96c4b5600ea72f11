//! DynamoDB emulators for tests: dynalite (npm) and moto's server (PyPI), as installed
//! by `scripts/deps/dynamodb.sh`, or the server at `DYNAMODB_ENDPOINT`.
//!
//! [`shared`] gives every test process of a run one emulator of each kind: cargo-nextest
//! runs each test in its own process, and starting an emulator per test would cost a
//! second of CPU each. The first process starts it on a free loopback port and records
//! the address under `target/tmp/`; later ones reuse it. Every user process refreshes a
//! lease file while it lives, and a small watchdog stops the emulator 30 seconds after
//! the last refresh, so nothing outlives the test run for long. [`Emulator::start`]
//! gives a private emulator, stopped when the handle is dropped.

use std::fs::{self, File};
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// How long an emulator may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a shared emulator outlives the last refresh of its lease.
const LEASE_SECONDS: u64 = 30;
/// How often a user process refreshes the lease.
const LEASE_REFRESH: Duration = Duration::from_secs(5);

/// A DynamoDB emulator program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    /// dynalite 4: strict request validation like DynamoDB; no `UpdateTimeToLive`.
    Dynalite,
    /// moto's server: every operation, TTL included, but never deletes expired items.
    Moto,
}

impl Emulator {
    /// A short name: `dynalite` or `moto`.
    pub fn name(self) -> &'static str {
        match self {
            Emulator::Dynalite => "dynalite",
            Emulator::Moto => "moto",
        }
    }

    /// The installed program: `DYNALITE` / `MOTO_SERVER` in the environment, the copy
    /// `scripts/deps/dynamodb.sh` installs under `target/`, or one on `PATH`.
    pub fn program(self) -> Option<PathBuf> {
        match self {
            Emulator::Dynalite => crate::find_program(
                "DYNALITE",
                "target/deps/dynalite/node_modules/.bin/dynalite",
                Some("dynalite"),
            ),
            Emulator::Moto => crate::find_program(
                "MOTO_SERVER",
                "target/py/moto/bin/moto_server",
                Some("moto_server"),
            ),
        }
    }

    fn command(self, program: &Path, port: u16) -> Command {
        let mut command = Command::new(program);
        match self {
            Emulator::Dynalite => {
                let port = port.to_string();
                command.args(["--host", "127.0.0.1", "--port", &port]);
                // Tables are usable at once instead of after half a second.
                command.args(["--createTableMs", "0", "--deleteTableMs", "0"]);
                command.args(["--updateTableMs", "0"]);
            }
            Emulator::Moto => {
                command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            }
        }
        command
    }

    /// Starts a private emulator on a free loopback port, stopped when the returned
    /// handle is dropped. `None` after a loud skip when the program is not installed;
    /// a panic when it is installed but does not start.
    pub fn start(self, test: &str) -> Option<DynamoDbServer> {
        let Some(program) = self.program() else {
            crate::skip(test, &not_installed(self));
            return None;
        };
        let log = scratch_dir(self).join(format!("private-{}.log", std::process::id()));
        let (child, endpoint) = spawn(self, &program, &log, test);
        Some(DynamoDbServer {
            endpoint,
            child: Some(child),
        })
    }
}

fn not_installed(emulator: Emulator) -> String {
    format!(
        "the DynamoDB emulator {} is not installed (scripts/deps/dynamodb.sh installs it) \
         and DYNAMODB_ENDPOINT is not set",
        emulator.name()
    )
}

/// A DynamoDB endpoint for tests; stops the emulator it started, if any, when dropped.
#[derive(Debug)]
pub struct DynamoDbServer {
    endpoint: String,
    child: Option<Child>,
}

impl DynamoDbServer {
    /// The endpoint URL, such as `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for DynamoDbServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The endpoint given in `DYNAMODB_ENDPOINT`, if any.
pub fn endpoint_from_env() -> Option<String> {
    std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|endpoint| !endpoint.is_empty())
}

/// The DynamoDB endpoint for `test` with `emulator`: `DYNAMODB_ENDPOINT` when set, else
/// the emulator shared by this run's test processes (started if need be). `None` after
/// a loud skip when neither is available (a panic under `KEYVALUE_REQUIRE_SERVERS=1`).
pub fn shared(test: &str, emulator: Emulator) -> Option<String> {
    if let Some(endpoint) = endpoint_from_env() {
        return Some(endpoint);
    }
    let Some(program) = emulator.program() else {
        crate::skip(test, &not_installed(emulator));
        return None;
    };
    let dir = scratch_dir(emulator);
    let endpoint_file = dir.join("endpoint");
    let lock = dir.join("starting");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(endpoint) = running(&endpoint_file) {
            keep_alive(&dir.join("lease"));
            return Some(endpoint);
        }
        // Whoever creates the lock directory starts the emulator; the others wait.
        if fs::create_dir(&lock).is_ok() {
            let _unlock = Unlock(lock.clone()); // also when starting panics
            let started = start_shared(emulator, &program, &dir, test);
            keep_alive(&dir.join("lease"));
            return Some(started);
        }
        if age(&lock).is_some_and(|age| age > START_TIMEOUT) {
            let _ = fs::remove_dir(&lock); // left by a process that died while starting
        }
        if Instant::now() > deadline {
            panic!(
                "{test}: another test process has been starting {} for over {} s",
                emulator.name(),
                START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the start lock directory when dropped.
struct Unlock(PathBuf);

impl Drop for Unlock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn scratch_dir(emulator: Emulator) -> PathBuf {
    let dir = crate::workspace_root()
        .join("target/tmp")
        .join(format!("dynamodb-{}", emulator.name()));
    if let Err(e) = fs::create_dir_all(&dir) {
        panic!("could not create {}: {e}", dir.display());
    }
    dir
}

/// The recorded endpoint, if its emulator still accepts connections.
fn running(endpoint_file: &Path) -> Option<String> {
    let endpoint = fs::read_to_string(endpoint_file).ok()?;
    let address = endpoint.trim().strip_prefix("http://")?;
    let address = address.parse().ok()?;
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    Some(endpoint.trim().to_owned())
}

fn age(path: &Path) -> Option<Duration> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

fn touch(path: &Path) {
    let _ = File::create(path);
}

/// Refreshes the lease now and, from a background thread, for as long as this process
/// lives.
fn keep_alive(lease: &Path) {
    touch(lease);
    static REFRESHER: OnceLock<()> = OnceLock::new();
    let lease = lease.to_owned();
    REFRESHER.get_or_init(move || {
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(LEASE_REFRESH);
                touch(&lease);
            }
        });
    });
}

fn start_shared(emulator: Emulator, program: &Path, dir: &Path, test: &str) -> String {
    let lease = dir.join("lease");
    touch(&lease);
    let (child, endpoint) = spawn(emulator, program, &dir.join("emulator.log"), test);
    // The watchdog stops the emulator once no test process has refreshed the lease
    // for LEASE_SECONDS; it runs detached, so this process may end first.
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(
            "while sleep 2; do \
                 kill -0 \"$1\" 2>/dev/null || exit 0; \
                 age=$(( $(date +%s) - $(stat -c %Y \"$2\" 2>/dev/null || echo 0) )); \
                 [ \"$age\" -lt \"$3\" ] || break; \
             done; \
             kill \"$1\" 2>/dev/null",
        )
        .arg("keyvalue-dynamodb-watchdog")
        .arg(child.id().to_string())
        .arg(&lease)
        .arg(LEASE_SECONDS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = watchdog {
        panic!("{test}: could not start the emulator's watchdog: {e}");
    }
    let record = dir.join(format!("endpoint.{}", std::process::id()));
    if let Err(e) =
        fs::write(&record, &endpoint).and_then(|()| fs::rename(&record, dir.join("endpoint")))
    {
        panic!("{test}: could not record the emulator's endpoint: {e}");
    }
    // The emulator belongs to the run now, not to this process.
    drop(child);
    endpoint
}

/// Starts `emulator` on a free port (a few tries: a free port can be taken before the
/// emulator binds it) and waits until it accepts connections.
fn spawn(emulator: Emulator, program: &Path, log: &Path, test: &str) -> (Child, String) {
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = match crate::free_port() {
            Ok(port) => port,
            Err(e) => panic!("{test}: no free loopback port: {e}"),
        };
        let log_file = match File::create(log) {
            Ok(file) => file,
            Err(e) => panic!("{test}: could not create {}: {e}", log.display()),
        };
        let stderr = match log_file.try_clone() {
            Ok(file) => file,
            Err(e) => panic!("{test}: could not open {}: {e}", log.display()),
        };
        // Its own process group and no inherited pipes: a shared emulator outlives the
        // test process, and the test runner must not wait for it.
        let mut child = match emulator
            .command(program, port)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(stderr)
            .process_group(0)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!("{test}: could not start {}: {e}", program.display()),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, format!("http://127.0.0.1:{port}"));
            }
            if let Ok(Some(status)) = child.try_wait() {
                last_error = format!(
                    "{} exited with {status}: {}",
                    emulator.name(),
                    read_log(log)
                );
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{test}: {} did not accept connections within {} s: {}",
                    emulator.name(),
                    START_TIMEOUT.as_secs(),
                    read_log(log)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    panic!("{test}: could not start {}: {last_error}", emulator.name());
}

fn read_log(log: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(log) {
        let _ = file.read_to_string(&mut text);
    }
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}
