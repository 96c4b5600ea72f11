//! What the key-value crates' tests share: where the test dependencies installed by
//! `scripts/install-test-deps` live, and the rule for missing ones.
//!
//! A test that needs something external (a server, the Python peer) finds it in this
//! order: an address or path in the environment, a program installed by
//! `scripts/install-test-deps` (under `target/`) or on `PATH`, then (for a single Redis
//! server only) a container when a Docker engine answers. When nothing is found it
//! skips loudly on standard error; with `KEYVALUE_REQUIRE_SERVERS=1` (set by CI) a skip is
//! a failure instead.

#![allow(clippy::panic)] // failing a test loudly is this crate's job

use std::path::PathBuf;

pub mod docker;
pub mod dynamodb;
pub mod processes;
pub mod python;
pub mod redis;
mod shared;

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Whether missing test dependencies must fail tests (`KEYVALUE_REQUIRE_SERVERS=1`).
pub fn servers_required() -> bool {
    std::env::var("KEYVALUE_REQUIRE_SERVERS").as_deref() == Ok("1")
}

/// Reports that `test` cannot run because `reason`: a loud skip, or a panic (test
/// failure) when [`servers_required`]. Returns normally only when skipping.
pub fn skip(test: &str, reason: &str) {
    if servers_required() {
        panic!("{test} cannot run: {reason} (and KEYVALUE_REQUIRE_SERVERS=1)");
    }
    eprintln!(
        "\n!!! SKIPPED: {test}: {reason}\n\
         !!! run scripts/install-test-deps to install what it needs; \
         KEYVALUE_REQUIRE_SERVERS=1 makes this a failure\n"
    );
    key_value_conformance::record_skip(&format!("{test}: {reason}"));
}

/// Looks for an executable: the path in environment variable `env`, then
/// `workspace_root()/relative`, then `name` on `PATH` (when given).
pub fn find_program(env: &str, relative: &str, name: Option<&str>) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let installed = workspace_root().join(relative);
    if installed.is_file() {
        return Some(installed);
    }
    let name = name?;
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A free TCP port on the loopback interface (free when asked; bind it soon).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
