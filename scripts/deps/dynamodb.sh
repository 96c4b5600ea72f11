#!/usr/bin/env bash
# The DynamoDB emulators the key-value-dynamodb tests run against (both, on a free
# loopback port each, started by key-value-test-support):
# - dynalite 4 (npm; strict validation like DynamoDB itself) at
#   target/deps/dynalite/node_modules/.bin/dynalite, run with the machine's Node.js;
# - moto's server (PyPI `moto[server]`; every operation, TTL included) in its own
#   virtual environment at target/py/moto. It must not share target/py/kv with
#   py-key-value-aio: resolving both in one environment makes pip backtrack for minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

dynalite_dir=target/deps/dynalite
if [ ! -x "$dynalite_dir/node_modules/.bin/dynalite" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    fi
    mkdir -p "$dynalite_dir"
    # A private package.json so npm installs here and not in a parent directory.
    [ -f "$dynalite_dir/package.json" ] || echo '{"private": true}' >"$dynalite_dir/package.json"
    npm install --prefix "$dynalite_dir" --no-audit --no-fund --loglevel=error 'dynalite@4'
fi
"$dynalite_dir/node_modules/.bin/dynalite" --help >/dev/null
echo "dynalite ready in $dynalite_dir"

moto_venv=target/py/moto
if ! { [ -x "$moto_venv/bin/moto_server" ] && "$moto_venv/bin/python" -c "import moto.server, flask_cors" 2>/dev/null; }; then
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi
"$moto_venv/bin/python" -c "import moto; print('moto', moto.__version__, 'ready in $PWD/$moto_venv')"
