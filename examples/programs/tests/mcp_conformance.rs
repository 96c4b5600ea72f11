//! The official MCP conformance suite, through `scripts/mcp-conformance`: its client
//! authorization scenarios against `conformance-client` (oauth-core plus the examples'
//! MCP client) and its authorization server scenarios against `demo-server`, both built
//! by cargo for this test. Needs Node 22 and the suite (`scripts/deps/node22.sh`); skips
//! loudly without them (a failure under `KEYVALUE_REQUIRE_SERVERS=1`).
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use key_value_test_support::{skip, workspace_root};

/// Issue 6 asks for at least 33 client scenarios; the suite version we pin has 43, and
/// two authorization server scenarios.
const AT_LEAST: usize = 45;

/// `target/<profile>/demo-server`, next to the `deps/` folder that holds this test.
fn demo_server_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let server = profile_dir.join(format!("demo-server{}", std::env::consts::EXE_SUFFIX));
    server.is_file().then_some(server)
}

#[test]
fn official_conformance_scenarios_pass() {
    const TEST: &str = "examples mcp_conformance";
    let root = workspace_root();
    let node = root.join("target/deps/node22/bin/node");
    let suite = root.join(
        "target/deps/mcp-conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
    );
    if !node.is_file() || !suite.is_file() {
        skip(
            TEST,
            "Node 22 and the MCP conformance suite are not installed (scripts/deps/node22.sh)",
        );
        return;
    }
    // Results go to target/mcp-conformance/, where scripts/test-all reports them from.
    let mut command = Command::new("bash");
    command
        .arg(root.join("scripts/mcp-conformance"))
        .env(
            "MCP_CONFORMANCE_CLIENT",
            env!("CARGO_BIN_EXE_conformance-client"),
        )
        .current_dir(&root);
    // The demo server is another package's binary: cargo built it beside this test's
    // `deps/` folder when it built that package's tests; otherwise the script builds it.
    if let Some(server) = demo_server_binary() {
        command.env("MCP_CONFORMANCE_SERVER", server);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));

    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .expect("a summary line");
    let numbers: Vec<usize> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "summary: {summary}");
    assert_eq!(numbers[1], 0, "failing scenarios:\n{stdout}");
    assert!(
        numbers[0] >= AT_LEAST,
        "only {} scenarios passed",
        numbers[0]
    );
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(
        passed, numbers[0],
        "the PASS lines and the summary disagree"
    );
    for scenario in [
        "2025-11-25 auth/metadata-default",
        "2026-07-28 auth/metadata-default",
        "2025-03-26 auth/2025-03-26-oauth-metadata-backcompat",
        "extension auth/client-credentials-jwt",
        "extension auth/client-credentials-basic",
        "authorization-server authorization-server-metadata-endpoint",
        "authorization-server authorization-code-grant",
    ] {
        assert!(
            stdout.contains(&format!("PASS {scenario}\n")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
    assert!(output.status.success());
}
