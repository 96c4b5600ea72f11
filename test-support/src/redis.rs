//! Redis servers for tests: the one named by the environment, or `redis-server` (Debian
//! package `redis-server`, installed by `scripts/deps/redis.sh`) started on free loopback
//! ports, as a single node or as a small cluster.
//!
//! Order of preference: `REDIS_URL` (a single node) and `REDIS_CLUSTER_NODES` (comma
//! separated node URLs of a cluster) from the environment, which the tests then treat as
//! shared with others; then a `redis-server` program (`KEYVALUE_REDIS_SERVER`, or on
//! `PATH`) that the harness starts itself, without persistence, and stops when the
//! handle is dropped. For a single node only, when no `redis-server` is installed but a
//! Docker engine answers, [`single`] runs a `redis:7` container instead (with the
//! `docker` command, see [`crate::docker`]; the testcontainers crate is not used); the
//! clusters have no container fallback, and where `redis-server` is installed (as
//! `scripts/deps/redis.sh` does) Docker is never asked. When nothing is found, [`crate::skip`]
//! says so loudly (or fails under `KEYVALUE_REQUIRE_SERVERS=1`).
//!
//! Started servers cannot outlive the test process: each runs under a small `sh`
//! watchdog that stops it as soon as the test process's end of a pipe closes, which
//! happens however the process ends (even for servers kept in a `static`). The one
//! exception is [`shared_cluster`], which the test processes of a run share and which
//! stops shortly after the last of them ends.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a new cluster may take to agree on its slots and nodes.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a test finds its Redis: a server from the environment, or one it started.
pub enum RedisTarget {
    /// `REDIS_URL` / `REDIS_CLUSTER_NODES`: shared with whoever else uses it.
    Shared(Vec<String>),
    /// A single server this process started.
    Server(RedisServer),
    /// A cluster this process started.
    Cluster(RedisCluster),
    /// A single server in a container (no `redis-server` here, but a Docker engine).
    Container(crate::docker::Container),
}

impl RedisTarget {
    /// The URLs to connect to: one for a single node, one per primary for a cluster.
    pub fn urls(&self) -> Vec<String> {
        match self {
            RedisTarget::Shared(urls) => urls.clone(),
            RedisTarget::Server(server) => vec![server.url()],
            RedisTarget::Cluster(cluster) => cluster.urls(),
            RedisTarget::Container(container) => {
                vec![format!("redis://127.0.0.1:{}/0", container.port())]
            }
        }
    }

    /// Whether other tests or programs may use the same server (then nothing may wipe it).
    pub fn is_shared(&self) -> bool {
        matches!(self, RedisTarget::Shared(_))
    }
}

/// A single Redis for `test`: `REDIS_URL`, else a started `redis-server`, else a
/// `redis` container when a Docker engine answers, else `None` after a loud skip.
pub fn single(test: &str) -> Option<RedisTarget> {
    if let Some(url) = env_nonempty("REDIS_URL") {
        return Some(RedisTarget::Shared(vec![url]));
    }
    if server_program().is_none()
        && crate::docker::engine_answers()
        && let Some(container) = crate::docker::Container::start("redis:7", 6379, &[])
    {
        return Some(RedisTarget::Container(container));
    }
    RedisServer::start(test).map(RedisTarget::Server)
}

/// A Redis Cluster for `test`: `REDIS_CLUSTER_NODES`, else three started
/// `redis-server --cluster-enabled yes` primaries of its own (stopped with the returned
/// target), else `None` after a loud skip.
pub fn cluster(test: &str) -> Option<RedisTarget> {
    if let Some(target) = cluster_from_env() {
        return Some(target);
    }
    RedisCluster::start(test, 3).map(RedisTarget::Cluster)
}

/// A Redis Cluster that `test` shares with the other test processes of this run:
/// `REDIS_CLUSTER_NODES`, else three `redis-server --cluster-enabled yes` primaries
/// started by the first process that asks (forming a cluster takes seconds; see the
/// crate's `shared` module), else `None` after a loud skip. Tests on it must keep to
/// their own keys and never wipe it, so it is a [`RedisTarget::Shared`].
pub fn shared_cluster(test: &str) -> Option<RedisTarget> {
    const PRIMARIES: usize = 3;
    if let Some(target) = cluster_from_env() {
        return Some(target);
    }
    let Some(program) = server_program() else {
        crate::skip(test, NOT_INSTALLED);
        return None;
    };
    let alive = |urls: &str| {
        let ports: Vec<u16> = urls.split(',').filter_map(url_port).collect();
        ports.len() == PRIMARIES && ports.iter().all(|port| cluster_ready(*port, PRIMARIES))
    };
    let urls = crate::shared::shared(
        "redis-cluster",
        test,
        START_TIMEOUT + CLUSTER_TIMEOUT,
        alive,
        |dir| start_detached_cluster(&program, dir, PRIMARIES, test),
    );
    Some(RedisTarget::Shared(
        urls.split(',').map(str::to_owned).collect(),
    ))
}

/// The port of `redis://127.0.0.1:PORT/`.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("redis://127.0.0.1:")?;
    rest.trim_end_matches('/').parse().ok()
}

/// Starts `primaries` cluster nodes that outlive this process (their files in `dir`)
/// and forms a cluster of them.
fn start_detached_cluster(
    program: &Path,
    dir: &Path,
    primaries: usize,
    test: &str,
) -> crate::shared::Started {
    let mut pids = Vec::with_capacity(primaries);
    let mut nodes = Vec::with_capacity(primaries);
    let stop = |pids: &[u32]| {
        for pid in pids {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    };
    for i in 0..primaries {
        match start_detached_node(program, &dir.join(format!("node-{i}"))) {
            Ok((pid, port, bus)) => {
                pids.push(pid);
                nodes.push((port, bus));
            }
            Err(e) => {
                stop(&pids);
                panic!("{test}: could not start a cluster node: {e}");
            }
        }
    }
    if let Err(e) = form_cluster(&nodes) {
        stop(&pids);
        panic!(
            "{test}: the shared Redis cluster did not form: {e} (logs in {})",
            dir.display()
        );
    }
    let urls: Vec<String> = nodes
        .iter()
        .map(|(port, _)| format!("redis://127.0.0.1:{port}/"))
        .collect();
    crate::shared::Started {
        pids,
        address: urls.join(","),
    }
}

/// Starts one cluster node in its own process group, not tied to this process; tries
/// other ports when another process takes a free one first. Returns its process ID,
/// port and cluster bus port.
fn start_detached_node(program: &Path, dir: &Path) -> io::Result<(u32, u16, u16)> {
    std::fs::create_dir_all(dir)?;
    retry_on_taken_port(|| {
        let no_log = |e| (e, String::new());
        let (port, bus) = (
            crate::free_port().map_err(no_log)?,
            crate::free_port().map_err(no_log)?,
        );
        let mut node = Command::new(program)
            .args(server_args(port, Some(bus), dir, &[]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(no_log)?;
        match wait_until_up(port, START_TIMEOUT, Some(&mut node)) {
            Ok(()) => Ok((node.id(), port, bus)),
            Err(e) => {
                let _ = node.kill();
                let _ = node.wait();
                let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                Err((io::Error::other(format!("{e}; its log:\n{log}")), log))
            }
        }
    })
}

/// Runs `attempt`, which picks fresh free ports each time, until it starts a server:
/// a port found free can be taken by another process before the server binds it. It
/// tries again (up to five attempts in all) only while the failure is that, as the
/// server's log (the second part of an error) says.
fn retry_on_taken_port<T>(
    mut attempt: impl FnMut() -> Result<T, (io::Error, String)>,
) -> io::Result<T> {
    const ATTEMPTS: usize = 5;
    let mut last = io::Error::other("no attempt");
    for _ in 0..ATTEMPTS {
        match attempt() {
            Ok(started) => return Ok(started),
            Err((e, log)) => {
                last = e;
                if !log.contains("Address already in use") {
                    break;
                }
            }
        }
    }
    Err(last)
}

fn cluster_from_env() -> Option<RedisTarget> {
    let nodes = env_nonempty("REDIS_CLUSTER_NODES")?;
    let urls = nodes
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    Some(RedisTarget::Shared(urls))
}

const NOT_INSTALLED: &str = "no Redis: REDIS_URL is not set and `redis-server` is not installed \
                             (scripts/deps/redis.sh installs it)";

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The `redis-server` program: `KEYVALUE_REDIS_SERVER`, or on `PATH`.
pub fn server_program() -> Option<PathBuf> {
    crate::find_program(
        "KEYVALUE_REDIS_SERVER",
        "target/deps/redis/redis-server",
        Some("redis-server"),
    )
}

/// A `redis-server` this process started on a free loopback port, without persistence.
/// Dropping it stops the server and removes its directory.
pub struct RedisServer {
    program: PathBuf,
    port: u16,
    /// The cluster bus port of a cluster node (chosen free, not the usual port + 10000).
    bus: Option<u16>,
    extra: Vec<String>,
    dir: PathBuf,
    /// The watchdog shell and our end of its pipe; `None` while stopped.
    running: Option<(Child, ChildStdin)>,
}

impl RedisServer {
    /// Starts a server for `test`, or returns `None` after a loud skip when there is no
    /// `redis-server`. Panics when the program exists but the server does not come up.
    pub fn start(test: &str) -> Option<RedisServer> {
        RedisServer::start_with(test, &[])
    }

    /// As [`RedisServer::start`], with extra `redis-server` arguments (such as
    /// `["--requirepass", "secret"]`).
    pub fn start_with(test: &str, extra: &[&str]) -> Option<RedisServer> {
        RedisServer::start_node(test, extra, false)
    }

    /// Starts a server, as a cluster node with a cluster bus port of its own when
    /// `cluster`. Ports are picked free and then bound by the server, so another process
    /// may take one in between: then it tries again with other ports.
    fn start_node(test: &str, extra: &[&str], cluster: bool) -> Option<RedisServer> {
        let Some(program) = server_program() else {
            crate::skip(test, NOT_INSTALLED);
            return None;
        };
        let free = || crate::free_port().unwrap_or_else(|e| panic!("{test}: no free port: {e}"));
        let started = retry_on_taken_port(|| {
            let port = free();
            let mut server = RedisServer {
                program: program.clone(),
                port,
                bus: cluster.then(free),
                extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
                dir: std::env::temp_dir()
                    .join(format!("key-value-redis-{}-{port}", std::process::id())),
                running: None,
            };
            match server.spawn() {
                Ok(()) => Ok(server),
                Err(e) => Err((e, server.log())),
            }
        });
        match started {
            Ok(server) => Some(server),
            Err(e) => panic!("{test}: could not start redis-server: {e}"),
        }
    }

    fn spawn(&mut self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let args = server_args(self.port, self.bus, &self.dir, &self.extra);
        self.running = Some(spawn_watched(&self.program, &args, &self.dir)?);
        wait_until_up(
            self.port,
            START_TIMEOUT,
            self.running.as_mut().map(|(shell, _)| shell),
        )
        .map_err(|e| io::Error::other(format!("{e}; its log:\n{}", self.log())))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log") // as server_args sets it
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server (its data is gone: there is no persistence).
    pub fn stop(&mut self) {
        if let Some((mut shell, stdin)) = self.running.take() {
            // Closing the pipe makes the watchdog stop the server and exit.
            drop(stdin);
            let _ = shell.wait();
        }
    }

    /// Starts a stopped server again on the same port.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }

    /// Sends one command over a fresh connection and returns the reply as text.
    pub fn command(&self, args: &[&str]) -> io::Result<String> {
        command(self.port, args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of `redis-server --cluster-enabled yes` primaries this process started
/// (slots split evenly, no replicas). Dropping it stops every node.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts a cluster of `primaries` nodes for `test`, or returns `None` after a loud
    /// skip when there is no `redis-server`. Panics when the cluster does not form.
    pub fn start(test: &str, primaries: usize) -> Option<RedisCluster> {
        let primaries = primaries.max(1);
        let mut nodes = Vec::with_capacity(primaries);
        for _ in 0..primaries {
            nodes.push(RedisServer::start_node(test, &[], true)?);
        }
        let cluster = RedisCluster { nodes };
        let ports: Vec<(u16, u16)> = cluster
            .nodes
            .iter()
            .map(|node| (node.port, node.bus.unwrap_or(node.port + 10_000)))
            .collect();
        if let Err(e) = form_cluster(&ports) {
            let logs: Vec<String> = cluster.nodes.iter().map(RedisServer::log).collect();
            panic!(
                "{test}: the Redis cluster did not form: {e}\nlogs:\n{}",
                logs.join("\n---\n")
            );
        }
        Some(cluster)
    }

    /// One `redis://127.0.0.1:PORT/` URL per node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

/// Makes a cluster of the fresh cluster nodes on `nodes` (each its port and cluster bus
/// port): assigns the slots evenly, introduces the nodes and waits until every node
/// agrees.
fn form_cluster(nodes: &[(u16, u16)]) -> io::Result<()> {
    const SLOTS: usize = 16384;
    let count = nodes.len();
    for (i, (port, _)) in nodes.iter().enumerate() {
        let first = (SLOTS * i / count).to_string();
        let last = (SLOTS * (i + 1) / count - 1).to_string();
        expect_ok(command(
            *port,
            &["CLUSTER", "ADDSLOTSRANGE", &first, &last],
        )?)?;
    }
    let Some(((first, _), others)) = nodes.split_first() else {
        return Ok(());
    };
    for (port, bus) in others {
        let (port, bus) = (port.to_string(), bus.to_string());
        expect_ok(command(
            *first,
            &["CLUSTER", "MEET", "127.0.0.1", &port, &bus],
        )?)?;
    }
    let deadline = Instant::now() + CLUSTER_TIMEOUT;
    while !nodes.iter().all(|(port, _)| cluster_ready(*port, count)) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the nodes did not agree in time",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether the node on `port` serves every slot in a cluster of `count` known nodes.
fn cluster_ready(port: u16, count: usize) -> bool {
    command(port, &["CLUSTER", "INFO"]).is_ok_and(|info| {
        info.contains("cluster_state:ok")
            && info.contains("cluster_slots_ok:16384")
            && info.contains(&format!("cluster_known_nodes:{count}\r"))
    })
}

fn expect_ok(reply: String) -> io::Result<()> {
    if reply == "OK" {
        Ok(())
    } else {
        Err(io::Error::other(format!("unexpected reply {reply:?}")))
    }
}

/// The `redis-server` arguments for a server on `port` keeping its files in `dir`, as a
/// cluster node with cluster bus port `bus` when given: no persistence, loopback only.
fn server_args(port: u16, bus: Option<u16>, dir: &Path, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    args.push(dir.display().to_string());
    args.push("--logfile".into());
    args.push(dir.join("redis.log").display().to_string());
    if let Some(bus) = bus {
        for arg in [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            &bus.to_string(),
            "--cluster-node-timeout",
            "5000",
        ] {
            args.push(arg.to_owned());
        }
    }
    args.extend(extra.iter().cloned());
    args
}

/// Starts `program args` under a watchdog shell that stops it when our end of the
/// shell's standard input closes.
fn spawn_watched(program: &Path, args: &[String], dir: &Path) -> io::Result<(Child, ChildStdin)> {
    // `read` returns at end of input: when the test process closes the pipe or exits.
    // The server's directory goes with it (servers kept in a `static` are never dropped).
    let script = r#"dir=$1; prog=$2; shift 2
"$prog" "$@" </dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid; rm -rf "$dir"; exit 0' TERM INT HUP
read -r _ignored
kill $pid 2>/dev/null
wait $pid
rm -rf "$dir"
exit 0"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(dir)
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no pipe to the watchdog"))?;
    Ok((child, stdin))
}

fn wait_until_up(port: u16, timeout: Duration, mut server: Option<&mut Child>) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match command(port, &["PING"]) {
            // A server with a password answers, but refuses PING: it is up too.
            Ok(reply) if reply == "PONG" || reply.starts_with("-NOAUTH") => return Ok(()),
            // A server still loading answers with an error; try again.
            Ok(_) | Err(_) if Instant::now() < deadline => {}
            Ok(reply) => return Err(io::Error::other(format!("PING answered {reply:?}"))),
            Err(e) => return Err(e),
        }
        if let Some(process) = server.as_deref_mut()
            && let Ok(Some(status)) = process.try_wait()
        {
            return Err(io::Error::other(format!(
                "redis-server exited at once ({status})"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one command to the server on 127.0.0.1:`port` and returns its reply as text:
/// a status or bulk string as is, an error as `-ERR …`, an integer in decimal, an array
/// as its elements joined by newlines.
pub fn command(port: u16, args: &[&str]) -> io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(line.len().min(1));
    let bad = || io::Error::other(format!("unexpected reply line {line:?}"));
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Ok(line.to_owned()),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(String::new()); // nil
            };
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        "*" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            let mut items = Vec::new();
            for _ in 0..len.max(0) {
                items.push(read_reply(reader)?);
            }
            Ok(items.join("\n"))
        }
        _ => Err(bad()),
    }
}
