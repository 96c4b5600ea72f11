#!/usr/bin/env bash
# The Python peer for interoperability tests and side-by-side benchmarks:
# py-key-value-aio with its disk, memory, Redis, DynamoDB and encryption extras, in its own
# virtual environment at target/py/kv (found there by key-value-test-support).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/py/kv
version=0.5.0
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import key_value.aio, cryptography, diskcache, redis, aiobotocore, cachetools, aiofile, anyio" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "py-key-value-aio[disk,filetree,memory,redis,dynamodb,wrappers-encryption]==$version"
"$venv/bin/python" -c "import key_value.aio; print('py-key-value-aio', '$version', 'ready in $venv')"
