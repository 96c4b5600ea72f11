//! DynamoDB emulators for tests: dynalite (npm) and moto's server (PyPI), as installed
//! by `scripts/deps/dynamodb.sh`, or the server at `DYNAMODB_ENDPOINT`.
//!
//! [`shared`] gives every test process of a run one emulator of each kind (its
//! `shared` module: starting an emulator per test would cost a second of CPU each).
//! [`Emulator::start`] gives a private emulator, stopped when the handle is dropped;
//! [`Emulator::start_with_table_delay`] one whose new tables stay CREATING for a while.

use std::fs::File;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long an emulator may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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

    /// The command line of the emulator on `port`. `table_delay` is how long dynalite
    /// keeps a new table in the CREATING state (moto has no such setting).
    fn command(self, program: &Path, port: u16, table_delay: Duration) -> Command {
        let mut command = Command::new(program);
        match self {
            Emulator::Dynalite => {
                let port = port.to_string();
                let create_ms = table_delay.as_millis().to_string();
                command.args(["--host", "127.0.0.1", "--port", &port]);
                // Tables are usable after `table_delay` (zero unless a test asks,
                // instead of dynalite's half a second).
                command.args(["--createTableMs", &create_ms, "--deleteTableMs", "0"]);
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
        self.start_private(test, Duration::ZERO)
    }

    /// Like [`Emulator::start`], but dynalite keeps each new table in the CREATING
    /// state for `table_delay` (its `--createTableMs`), as DynamoDB does for a few
    /// seconds: for tests of code that meets a table still being created. moto makes
    /// tables active at once, whatever `table_delay` is.
    pub fn start_with_table_delay(
        self,
        test: &str,
        table_delay: Duration,
    ) -> Option<DynamoDbServer> {
        self.start_private(test, table_delay)
    }

    fn start_private(self, test: &str, table_delay: Duration) -> Option<DynamoDbServer> {
        let Some(program) = self.program() else {
            crate::skip(test, &not_installed(self));
            return None;
        };
        let log = crate::shared::scratch_dir(&format!("dynamodb-{}", self.name()))
            .join(format!("private-{}.log", std::process::id()));
        let (child, endpoint) = spawn(self, &program, &log, test, table_delay);
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
/// the emulator shared by this run's test processes (started if need be by the
/// crate's `shared` module). `None` after a loud skip when neither is available (a panic under
/// `KEYVALUE_REQUIRE_SERVERS=1`).
pub fn shared(test: &str, emulator: Emulator) -> Option<String> {
    if let Some(endpoint) = endpoint_from_env() {
        return Some(endpoint);
    }
    let Some(program) = emulator.program() else {
        crate::skip(test, &not_installed(emulator));
        return None;
    };
    let name = format!("dynamodb-{}", emulator.name());
    Some(crate::shared::shared(
        &name,
        test,
        START_TIMEOUT,
        accepts_connections,
        |dir| {
            let log = dir.join("emulator.log");
            let (child, endpoint) = spawn(emulator, &program, &log, test, Duration::ZERO);
            // The emulator belongs to the run now, not to this process.
            crate::shared::Started {
                pids: vec![child.id()],
                address: endpoint,
            }
        },
    ))
}

/// Whether something accepts connections at `endpoint` (`http://127.0.0.1:PORT`).
fn accepts_connections(endpoint: &str) -> bool {
    let Some(address) = endpoint.strip_prefix("http://") else {
        return false;
    };
    address.parse().is_ok_and(|address| {
        TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
    })
}

/// Starts `emulator` on a free port (a few tries: a free port can be taken before the
/// emulator binds it) and waits until it accepts connections.
fn spawn(
    emulator: Emulator,
    program: &Path,
    log: &Path,
    test: &str,
    table_delay: Duration,
) -> (Child, String) {
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
            .command(program, port, table_delay)
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
