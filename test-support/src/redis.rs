//! Redis servers for tests: the one named by the environment, or `redis-server` (Debian
//! package `redis-server`, installed by `scripts/deps/redis.sh`) started on free loopback
//! ports, as a single node or as a small cluster.
//!
//! Order of preference: `REDIS_URL` (a single node) and `REDIS_CLUSTER_NODES` (comma
//! separated node URLs of a cluster) from the environment, which the tests then treat as
//! shared with others; then a `redis-server` program (`KEYVALUE_REDIS_SERVER`, or on
//! `PATH`) that the harness starts itself, without persistence, and stops when the
//! handle is dropped. testcontainers is not used: the machines these tests run on have
//! no Docker engine. When nothing is found, [`crate::skip`] says so loudly (or fails
//! under `KEYVALUE_REQUIRE_SERVERS=1`).
//!
//! Started servers cannot outlive the test process: each runs under a small `sh`
//! watchdog that stops it as soon as the test process's end of a pipe closes, which
//! happens however the process ends (even for servers kept in a `static`).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
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
/// `redis-server --cluster-enabled yes` primaries, else `None` after a loud skip.
pub fn cluster(test: &str) -> Option<RedisTarget> {
    if let Some(nodes) = env_nonempty("REDIS_CLUSTER_NODES") {
        let urls = nodes
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        return Some(RedisTarget::Shared(urls));
    }
    RedisCluster::start(test, 3).map(RedisTarget::Cluster)
}

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
        const ATTEMPTS: usize = 5;
        let Some(program) = server_program() else {
            crate::skip(
                test,
                "no Redis: REDIS_URL is not set and `redis-server` is not installed \
                 (scripts/deps/redis.sh installs it)",
            );
            return None;
        };
        let free = || crate::free_port().unwrap_or_else(|e| panic!("{test}: no free port: {e}"));
        let mut failure = String::new();
        for _ in 0..ATTEMPTS {
            let port = free();
            let mut server = RedisServer {
                program: program.clone(),
                port,
                bus: cluster.then(free),
                extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
                dir: std::env::temp_dir()
                    .join(format!("keyvalue-redis-{}-{port}", std::process::id())),
                running: None,
            };
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(e) if server.log().contains("Address already in use") => {
                    failure = e.to_string();
                }
                Err(e) => panic!("{test}: could not start redis-server: {e}"),
            }
        }
        panic!(
            "{test}: could not start redis-server ({ATTEMPTS} attempts, ports taken): {failure}"
        );
    }

    fn spawn(&mut self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
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
        args.push(self.dir.display().to_string());
        args.push("--logfile".into());
        args.push(self.log_path().display().to_string());
        if let Some(bus) = self.bus {
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
        args.extend(self.extra.iter().cloned());
        self.running = Some(spawn_watched(&self.program, &args, &self.dir)?);
        wait_until_up(self.port, START_TIMEOUT, self.running.as_mut())
            .map_err(|e| io::Error::other(format!("{e}; its log:\n{}", self.log())))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
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
        if let Err(e) = cluster.form() {
            let logs: Vec<String> = cluster.nodes.iter().map(RedisServer::log).collect();
            panic!(
                "{test}: the Redis cluster did not form: {e}\nlogs:\n{}",
                logs.join("\n---\n")
            );
        }
        Some(cluster)
    }

    /// Assigns the slots, introduces the nodes and waits until every node agrees.
    fn form(&self) -> io::Result<()> {
        const SLOTS: usize = 16384;
        let count = self.nodes.len();
        for (i, node) in self.nodes.iter().enumerate() {
            let first = (SLOTS * i / count).to_string();
            let last = (SLOTS * (i + 1) / count - 1).to_string();
            expect_ok(node.command(&["CLUSTER", "ADDSLOTSRANGE", &first, &last])?)?;
        }
        let first = &self.nodes[0];
        for node in self.nodes.iter().skip(1) {
            let bus = node.bus.unwrap_or(node.port + 10_000);
            let (port, bus) = (node.port().to_string(), bus.to_string());
            expect_ok(first.command(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus])?)?;
        }
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        let known = format!("cluster_known_nodes:{count}");
        loop {
            let mut ready = true;
            for node in &self.nodes {
                let info = node.command(&["CLUSTER", "INFO"])?;
                ready &= info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_ok:16384")
                    && info.contains(&known);
            }
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the nodes did not agree in time",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

fn expect_ok(reply: String) -> io::Result<()> {
    if reply == "OK" {
        Ok(())
    } else {
        Err(io::Error::other(format!("unexpected reply {reply:?}")))
    }
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

fn wait_until_up(
    port: u16,
    timeout: Duration,
    running: Option<&mut (Child, ChildStdin)>,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut running = running;
    loop {
        match command(port, &["PING"]) {
            // A server with a password answers, but refuses PING: it is up too.
            Ok(reply) if reply == "PONG" || reply.starts_with("-NOAUTH") => return Ok(()),
            // A server still loading answers with an error; try again.
            Ok(_) | Err(_) if Instant::now() < deadline => {}
            Ok(reply) => return Err(io::Error::other(format!("PING answered {reply:?}"))),
            Err(e) => return Err(e),
        }
        if let Some((shell, _)) = running.as_deref_mut()
            && let Ok(Some(status)) = shell.try_wait()
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
