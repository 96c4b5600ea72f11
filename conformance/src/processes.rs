//! The lease primitive across OS processes: [`lease_race_across_processes`].
//!
//! Tasks in one process can share a lock; processes cannot, so a store whose
//! `put_if_absent` is atomic only within a process (a mutex around a check and a write)
//! passes the in-process cases and fails here. The test starts copies of the test binary,
//! each running only the calling test with an environment variable giving it the child's
//! role; in those copies the same call races once instead of starting others.
//!
//! The race starts when every child has opened the store and said so, not at a time
//! guessed in advance: on a loaded machine a child that started late would otherwise
//! find the lease already expired and rightly win it too.

use std::future::Future;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use key_value_core::{AsyncKeyValue, JsonObject, Result};

const ROLE: &str = "KEYVALUE_LEASE_RACE_ROLE";
const LOCATION: &str = "KEYVALUE_LEASE_RACE_LOCATION";
const COLLECTION: &str = "lease-race";
/// How long a won lease lives: long enough for the racers to exit and the parent to
/// read the lease back on a loaded machine; the second round waits it out.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// Races `processes` OS processes for one key with `put_if_absent`, twice: exactly one
/// must win each round, the stored value must be the winner's, and the second round,
/// started after the first lease expired, must have a winner too (an expired lease is
/// taken over).
///
/// Call it from a `#[test]` function, passing that function's name as `test` and a
/// `location` the children can open the same store from (a file path, a server URL);
/// `open` opens the store at a location. In the child copies of the test binary the
/// call takes part in the race and returns. Panics (failing the test) when the race
/// has no winner or more than one.
///
/// ```no_run
/// #[test]
/// fn lease_is_exclusive_across_processes() {
///     let dir = std::env::temp_dir().join("my-store-lease-race");
///     key_value_conformance::lease_race_across_processes(
///         "lease_is_exclusive_across_processes",
///         dir.to_string_lossy().as_ref(),
///         8,
///         |location| async move { my_store::open(location).await },
///     );
/// }
/// # mod my_store { pub async fn open(_: String) -> key_value_core::Result<key_value_memory::MemoryStore> { Ok(Default::default()) } }
/// ```
#[allow(clippy::panic)] // this is a test: a failure panics
pub fn lease_race_across_processes<S, F, Fut>(test: &str, location: &str, processes: usize, open: F)
where
    S: AsyncKeyValue,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<S>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("could not start a tokio runtime: {e}"),
    };
    if let Ok(role) = std::env::var(ROLE) {
        let location = std::env::var(LOCATION).unwrap_or_default();
        let outcome = race_once(&runtime, &role, open(location));
        match outcome {
            Ok(won) => println!("lease-race {role} {}", if won { "won" } else { "lost" }),
            Err(e) => println!("lease-race {role} error {e}"),
        }
        return;
    }
    let key = format!("lease-{:x}", now_ms());
    for round in 0..2 {
        let mut racers: Vec<Racer> = (0..processes)
            .map(|i| Racer::spawn(test, location, &key, round, i))
            .collect();
        for (i, racer) in racers.iter_mut().enumerate() {
            match racer.next_line() {
                Some(line) if line.ends_with(" ready") => {}
                other => panic!("round {round}: process {i} did not open the store: {other:?}"),
            }
        }
        let started = Instant::now();
        for racer in &mut racers {
            racer.start();
        }
        let mut winners = Vec::new();
        for (i, racer) in racers.into_iter().enumerate() {
            match racer.outcome() {
                Some(line) if line.ends_with(" won") => winners.push(i),
                Some(line) if line.ends_with(" lost") => {}
                other => panic!("round {round}: process {i} did not race: {other:?}"),
            }
        }
        // Every racer has exited: the won lease was written before this instant.
        let raced = Instant::now();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} of {processes} processes won the lease: {winners:?}",
            winners.len()
        );
        let stored = runtime.block_on(async {
            let store = open(location.to_owned()).await?;
            store.get(&key, Some(COLLECTION)).await
        });
        let expected = racer_value(&format!("{key}/{round}/{}", winners[0]));
        match stored {
            Ok(Some(value)) => assert_eq!(value, expected, "round {round}: the stored lease"),
            Ok(None) => panic!(
                "round {round}: the won lease is not stored, read back {:?} after the race \
                 (it lives {LEASE_TTL:?})",
                started.elapsed()
            ),
            Err(e) => panic!("round {round}: the won lease cannot be read: {e}"),
        }
        // Let the lease expire, so that the next round must take it over.
        if round == 0 {
            std::thread::sleep(
                LEASE_TTL.saturating_sub(raced.elapsed()) + Duration::from_millis(200),
            );
        }
    }
}

/// One child's part: opens the store, says it is ready, and races once when the parent
/// says go (a line on its standard input, read outside the runtime).
fn race_once<S, Fut>(runtime: &tokio::runtime::Runtime, role: &str, open: Fut) -> Result<bool>
where
    S: AsyncKeyValue,
    Fut: Future<Output = Result<S>>,
{
    let store = runtime.block_on(open)?;
    println!("lease-race {role} ready");
    // The end of input (the parent gone) starts the race too; its outcome then goes
    // unread.
    let _ = std::io::stdin().read_line(&mut String::new());
    let key = role.split('/').next().unwrap_or(role);
    runtime.block_on(store.put_if_absent(key, racer_value(role), Some(LEASE_TTL), Some(COLLECTION)))
}

/// The value racer `role` (`key/round/index`) writes.
fn racer_value(role: &str) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("holder".into(), role.into());
    value
}

/// A child copy of the test binary, racing for the lease.
struct Racer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Racer {
    #[allow(clippy::panic)]
    fn spawn(test: &str, location: &str, key: &str, round: usize, i: usize) -> Racer {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => panic!("cannot find the test binary: {e}"),
        };
        let spawned = Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads", "1"])
            .env(ROLE, format!("{key}/{round}/{i}"))
            .env(LOCATION, location)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => panic!("could not start a child process: {e}"),
        };
        let Some(stdout) = child.stdout.take() else {
            panic!("the child process has no standard output");
        };
        Racer {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The child's next `lease-race …` line; `None` once its output ended.
    fn next_line(&mut self) -> Option<String> {
        // libtest may have written `test NAME ... ` on the same line first.
        self.lines
            .by_ref()
            .map_while(std::io::Result::ok)
            .find_map(|line| line.find("lease-race ").map(|at| line[at..].to_owned()))
    }

    /// Tells the child to race: a line, then the end of its input.
    fn start(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            // A child that exited already fails the round when its outcome is read.
            let _ = stdin.write_all(b"go\n");
        }
    }

    /// The child's outcome line, after it exited.
    fn outcome(mut self) -> Option<String> {
        let line = self.next_line();
        // Read to the end, so the child never writes into a closed pipe.
        self.lines.by_ref().for_each(drop);
        let _ = self.child.wait();
        line
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
