//! Crash and multi-process tests for stores that live in files.
//!
//! A test calls [`crash_test`] or [`multi_process_test`] from a `#[test]` function and
//! passes the function's own name. The harness starts copies of the test binary that run
//! only that test, with an environment variable giving each its role; in those copies
//! the same call does the child's work instead.
//!
//! - Crash test: a child writes entries (single puts, batches, overwrites of one hot key)
//!   and reports each acknowledged write on its standard output; the parent kills it
//!   with SIGKILL at a random moment, then opens the store and checks that every
//!   acknowledged write reads back intact and that no entry is unreadable. Rounds:
//!   `KEYVALUE_CRASH_ROUNDS` (default 5).
//! - Multi-process test: several children write their own keys and a shared hot key and
//!   read each other's entries at the same time; every read must be a whole value, and
//!   afterwards every write must be there.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use key_value_core::{AsyncKeyValue, JsonObject, Result};
use serde_json::json;

const ROLE: &str = "KEYVALUE_PROCESS_TEST_ROLE";
const LOCATION: &str = "KEYVALUE_PROCESS_TEST_LOCATION";
const COLLECTION: &str = "process-test";
/// Entries each multi-process child writes.
const WRITES_PER_CHILD: u64 = 150;
const CHILDREN: u64 = 4;

/// A value that says which write made it, padded to vary sizes; `whole` checks it.
fn value(writer: u64, i: u64) -> JsonObject {
    let pad = "x".repeat(((i * 37) % 400) as usize);
    match json!({"writer": writer, "i": i, "check": writer * 1_000_000 + i, "pad": pad}) {
        serde_json::Value::Object(object) => object,
        _ => JsonObject::new(),
    }
}

fn whole(value: &JsonObject) -> Option<(u64, u64)> {
    let writer = value.get("writer")?.as_u64()?;
    let i = value.get("i")?.as_u64()?;
    let pad_ok = value.get("pad")?.as_str()?.len() == ((i * 37) % 400) as usize;
    (value.get("check")?.as_u64()? == writer * 1_000_000 + i && pad_ok).then_some((writer, i))
}

fn random_below(n: u64) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(n);
    hasher.finish() % n.max(1)
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("no tokio runtime: {e}"),
    }
}

/// Starts a copy of this test binary that runs only `test`, in `role`.
fn spawn_child(test: &str, role: &str, location: &Path) -> Child {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => panic!("cannot find the test binary: {e}"),
    };
    match Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(ROLE, role)
        .env(LOCATION, location)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("could not start a child process: {e}"),
    }
}

fn child_role() -> Option<(String, PathBuf)> {
    let role = std::env::var(ROLE).ok()?;
    let location = std::env::var_os(LOCATION)?;
    Some((role, PathBuf::from(location)))
}

/// Kills a child process when dropped, so a failing test leaves none behind.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child's standard output, line by line, read on a thread of its own: the parent
/// can wait for a line with a deadline instead of blocking on the pipe.
pub struct OutputLines {
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl OutputLines {
    /// Takes `child`'s piped standard output; `None` if it was not piped.
    pub fn of(child: &mut Child) -> Option<OutputLines> {
        let stdout = child.stdout.take()?;
        let (sender, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Some(OutputLines { lines, reader })
    }

    /// The next line, if one comes within `within`.
    pub fn next_within(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Whether a line containing `needle` comes within `within`.
    pub fn wait_for(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// The lines not yet taken, once the output has ended (the child gone).
    pub fn finish(self) -> Vec<String> {
        let _ = self.reader.join();
        self.lines.try_iter().collect()
    }
}

/// The crash test; see the [module docs](self). `open` opens the store at a location
/// (a directory or file path inside the temporary directory it is given).
pub fn crash_test<S, F, Fut>(test: &str, open: F)
where
    S: AsyncKeyValue + 'static,
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Result<S>>,
{
    if let Some((role, location)) = child_role() {
        if role == "crash-writer" {
            runtime().block_on(crash_writer(open(location)));
        }
        return;
    }
    let rounds: u64 = std::env::var("KEYVALUE_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let location = dir.path().join("store");
    let runtime = runtime();
    let mut total_acked = 0;
    for round in 0..rounds {
        let acked = run_and_kill(test, &location);
        total_acked += acked.len();
        runtime.block_on(async {
            let store = match open(location.clone()).await {
                Ok(store) => store,
                Err(e) => panic!("round {round}: the store does not open after a crash: {e}"),
            };
            verify_after_crash(&store, &acked, round).await;
        });
    }
    eprintln!("crash test: {rounds} rounds, {total_acked} acknowledged writes, all intact");
}

/// What a crash writer acknowledged.
#[derive(Debug, Default)]
struct Acked {
    keys: Vec<(String, u64, u64)>,
    hot: Option<u64>,
}

impl Acked {
    fn len(&self) -> usize {
        self.keys.len() + usize::from(self.hot.is_some())
    }
}

/// Runs a writer until a random moment after its first acknowledgement, kills it, and
/// returns everything it acknowledged before dying.
fn run_and_kill(test: &str, location: &Path) -> Acked {
    let mut child = Reaper(spawn_child(test, "crash-writer", location));
    let Some(lines) = OutputLines::of(&mut child.0) else {
        panic!("the writer has no standard output");
    };
    let mut acked = Acked::default();
    let mut record = |line: String| {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("ack"), Some(key), Some(writer), Some(i)) => {
                if let (Ok(writer), Ok(i)) = (writer.parse(), i.parse()) {
                    acked.keys.push((key.to_owned(), writer, i));
                }
            }
            (Some("hot"), Some(i), None, None) => {
                if let Ok(i) = i.parse() {
                    acked.hot = Some(i);
                }
            }
            _ => {}
        }
    };
    // Wait for the first acknowledgement, then a random 10–250 ms of writing.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match lines.next_within(Duration::from_millis(100)) {
            Some(line) => {
                let first = line.starts_with("ack");
                record(line);
                if first {
                    break;
                }
            }
            None if Instant::now() > deadline => {
                panic!("the writer acknowledged nothing in 60 s")
            }
            None => {}
        }
    }
    let kill_at = Instant::now() + Duration::from_millis(10 + random_below(240));
    while Instant::now() < kill_at {
        if let Some(line) = lines.next_within(Duration::from_millis(5)) {
            record(line);
        }
    }
    drop(child); // SIGKILL
    // Acknowledgements already in the pipe were made before the kill.
    for line in lines.finish() {
        record(line);
    }
    acked
}

async fn crash_writer<S: AsyncKeyValue, Fut: Future<Output = Result<S>>>(store: Fut) {
    let store = match store.await {
        Ok(store) => store,
        Err(e) => panic!("the writer could not open the store: {e}"),
    };
    let writer = u64::from(std::process::id());
    let mut i = 0u64;
    loop {
        if i % 5 == 4 {
            // A batch, acknowledged as a whole once it returns.
            let keys: Vec<String> = (i..i + 10).map(|n| format!("w{writer}-{n}")).collect();
            let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let values = (i..i + 10).map(|n| value(writer, n)).collect();
            if let Err(e) = store
                .put_many(&key_refs, values, None, Some(COLLECTION))
                .await
            {
                panic!("writer: put_many failed: {e}");
            }
            for (n, key) in (i..).zip(&keys) {
                println!("ack {key} {writer} {n}");
            }
            i += 10;
        } else {
            let key = format!("w{writer}-{i}");
            if let Err(e) = store
                .put(&key, value(writer, i), None, Some(COLLECTION))
                .await
            {
                panic!("writer: put failed: {e}");
            }
            println!("ack {key} {writer} {i}");
            i += 1;
        }
        if let Err(e) = store
            .put("hot", value(writer, i), None, Some(COLLECTION))
            .await
        {
            panic!("writer: put of the hot key failed: {e}");
        }
        println!("hot {i}");
    }
}

async fn verify_after_crash<S: AsyncKeyValue>(store: &S, acked: &Acked, round: u64) {
    for (key, writer, i) in &acked.keys {
        match store.get(key, Some(COLLECTION)).await {
            Ok(Some(found)) if found == value(*writer, *i) => {}
            Ok(other) => panic!("round {round}: acknowledged {key} reads back as {other:?}"),
            Err(e) => panic!("round {round}: acknowledged {key} is unreadable: {e}"),
        }
    }
    if let Some(last) = acked.hot {
        match store.get("hot", Some(COLLECTION)).await {
            // A later, unacknowledged write may have landed too; never an older one.
            Ok(Some(found)) => match whole(&found) {
                Some((_, i)) if i >= last => {}
                other => panic!("round {round}: the hot key holds {other:?}, acknowledged {last}"),
            },
            other => panic!("round {round}: the hot key reads {other:?}"),
        }
    }
    // Nothing half-written is visible: every listed entry reads back whole.
    let keys = match store.keys(Some(COLLECTION), None).await {
        Ok(keys) => keys,
        Err(e) => panic!("round {round}: listing after a crash failed: {e}"),
    };
    for key in keys {
        match store.get(&key, Some(COLLECTION)).await {
            Ok(Some(found)) if whole(&found).is_some() => {}
            other => panic!("round {round}: entry {key} after a crash: {other:?}"),
        }
    }
    if let Err(e) = store.cull().await {
        panic!("round {round}: cull after a crash failed: {e}");
    }
}

/// The multi-process test; see the [module docs](self).
pub fn multi_process_test<S, F, Fut>(test: &str, open: F)
where
    S: AsyncKeyValue + 'static,
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Result<S>>,
{
    if let Some((role, location)) = child_role() {
        if let Some(id) = role.strip_prefix("mixer-").and_then(|id| id.parse().ok()) {
            runtime().block_on(mixer(open(location), id));
        }
        return;
    }
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("no temporary directory: {e}"),
    };
    let location = dir.path().join("store");
    let runtime = runtime();
    // Create the store once before the children race to open it.
    if let Err(e) = runtime.block_on(open(location.clone())) {
        panic!("could not create the store: {e}");
    }
    let children: Vec<Reaper> = (0..CHILDREN)
        .map(|id| Reaper(spawn_child(test, &format!("mixer-{id}"), &location)))
        .collect();
    for (id, mut child) in children.into_iter().enumerate() {
        let status = match child.0.wait() {
            Ok(status) => status,
            Err(e) => panic!("child {id} could not be waited for: {e}"),
        };
        assert!(
            status.success(),
            "child {id} failed ({status}); its panic is above"
        );
    }
    runtime.block_on(async {
        let store = match open(location.clone()).await {
            Ok(store) => store,
            Err(e) => panic!("could not reopen the store: {e}"),
        };
        for writer in 0..CHILDREN {
            let keys: Vec<String> = (0..WRITES_PER_CHILD)
                .map(|i| format!("m{writer}-{i}"))
                .collect();
            let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let found = match store.get_many(&key_refs, Some(COLLECTION)).await {
                Ok(found) => found,
                Err(e) => panic!("reading writer {writer}'s entries failed: {e}"),
            };
            for (i, found) in (0..).zip(found) {
                assert_eq!(found, Some(value(writer, i)), "writer {writer}'s entry {i}");
            }
        }
        match store.get("hot", Some(COLLECTION)).await {
            Ok(Some(found)) => assert!(whole(&found).is_some(), "the hot key is torn"),
            other => panic!("the hot key reads {other:?}"),
        }
    });
    eprintln!(
        "multi-process test: {CHILDREN} processes, {} writes each, every read whole, every write kept",
        WRITES_PER_CHILD
    );
}

async fn mixer<S: AsyncKeyValue, Fut: Future<Output = Result<S>>>(store: Fut, id: u64) {
    let store = match store.await {
        Ok(store) => store,
        Err(e) => panic!("mixer {id} could not open the store: {e}"),
    };
    for i in 0..WRITES_PER_CHILD {
        let key = format!("m{id}-{i}");
        if let Err(e) = store.put(&key, value(id, i), None, Some(COLLECTION)).await {
            panic!("mixer {id}: put {key} failed: {e}");
        }
        if let Err(e) = store.put("hot", value(id, i), None, Some(COLLECTION)).await {
            panic!("mixer {id}: put of the hot key failed: {e}");
        }
        // Read another writer's entry and the hot key: present or not, never torn.
        let other = (id + 1 + random_below(CHILDREN - 1)) % CHILDREN;
        let other_key = format!("m{other}-{}", random_below(WRITES_PER_CHILD));
        for key in [other_key.as_str(), "hot"] {
            match store.get(key, Some(COLLECTION)).await {
                Ok(None) => {}
                Ok(Some(found)) => assert!(whole(&found).is_some(), "mixer {id}: {key} is torn"),
                Err(e) => panic!("mixer {id}: reading {key} failed: {e}"),
            }
        }
        match store.get(&key, Some(COLLECTION)).await {
            Ok(Some(found)) if found == value(id, i) => {}
            other => panic!("mixer {id}: its own {key} reads {other:?}"),
        }
    }
}
