//! The Python peer: py-key-value-aio in the virtual environment that
//! `scripts/deps/python.sh` makes at `target/py/kv`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Python interpreter with py-key-value-aio installed: `KEYVALUE_PYTHON`, or
/// `target/py/kv/bin/python`. `None` when neither exists.
pub fn interpreter() -> Option<PathBuf> {
    crate::find_program("KEYVALUE_PYTHON", "target/py/kv/bin/python", None)
}

/// Runs `script` with the Python peer, `args` after it, and returns its standard output.
///
/// `None` (after a loud skip) when the peer is not installed; a panic with Python's
/// standard error when the script fails.
pub fn run(test: &str, script: &str, args: &[&str]) -> Option<String> {
    let Some(python) = interpreter() else {
        crate::skip(test, "the Python peer (py-key-value-aio) is not installed");
        return None;
    };
    let mut child = match Command::new(&python)
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("{test}: could not start {}: {e}", python.display()),
    };
    if let Some(mut stdin) = child.stdin.take()
        && let Err(e) = stdin.write_all(script.as_bytes())
    {
        panic!("{test}: could not send the script to Python: {e}");
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(e) => panic!("{test}: Python did not finish: {e}"),
    };
    if !output.status.success() {
        panic!(
            "{test}: the Python script failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
