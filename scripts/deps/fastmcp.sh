#!/usr/bin/env bash
# The real FastMCP, for mcp-auth's test that it shares FastMCP's command-line token
# cache (examples/mcp-auth/tests/fastmcp.rs): fastmcp in its own virtual environment at
# target/py/fastmcp (found there by key-value-test-support's `python::fastmcp_interpreter`).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/py/fastmcp
version=4.2.3
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import importlib.metadata as m, sys
from fastmcp.cli.client import _build_client
sys.exit(m.version('fastmcp') != '$version')" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "fastmcp==$version"
"$venv/bin/python" -c "from fastmcp.cli.client import _build_client; print('fastmcp', '$version', 'ready in $venv')"
