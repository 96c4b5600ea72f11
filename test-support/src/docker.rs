//! The last resort before a skip: a test server in a container, when a Docker engine
//! answers. The `docker` command does what the testcontainers crate would (start a
//! container with its port published on loopback, remove it when dropped) without that
//! crate's dependency tree; machines without an engine (this project's CI among them)
//! never get here, as `engine_answers` is false there.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a container's server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Whether a Docker engine answers (not just whether the client is installed).
pub fn engine_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A running container, removed when dropped.
#[derive(Debug)]
pub struct Container {
    id: String,
    port: u16,
}

impl Container {
    /// Starts `image` (with `args` for its command) and publishes `container_port` on a
    /// free loopback port; waits until it accepts connections. `None` if it cannot.
    pub fn start(image: &str, container_port: u16, args: &[&str]) -> Option<Container> {
        let published = format!("127.0.0.1::{container_port}");
        let output = Command::new("docker")
            .args(["run", "--detach", "--rm", "--publish", &published, image])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let port_output = Command::new("docker")
            .args(["port", &id, &container_port.to_string()])
            .output()
            .ok();
        let mut container = Container { id, port: 0 };
        container.port = parse_published_port(&String::from_utf8_lossy(&port_output?.stdout))?;
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", container.port)).is_err() {
            if Instant::now() > deadline {
                return None; // dropping removes the container
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(container)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The host port in `docker port` output such as `127.0.0.1:49153`.
fn parse_published_port(output: &str) -> Option<u16> {
    output
        .lines()
        .find_map(|line| line.trim().rsplit_once(':')?.1.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_port() {
        assert_eq!(parse_published_port("127.0.0.1:49153\n"), Some(49153));
        assert_eq!(parse_published_port("[::1]:5000\n0.0.0.0:7\n"), Some(5000));
        assert_eq!(parse_published_port(""), None);
        assert_eq!(parse_published_port("no port here"), None);
    }
}
