"""py-key-value-aio's FileTreeStore (FileTreeV1 strategies) and DiskStore doing the work
of benches/side_by_side.rs, for scripts/bench-disk.

Run with the Python peer: target/py/kv/bin/python stores/disk/benches/py_filetree.py [SECONDS] [DIR]
Prints one line per store and operation: `<store>/<op> <microseconds per call>`.
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from key_value.aio.stores.disk import DiskStore
from key_value.aio.stores.filetree import (
    FileTreeStore,
    FileTreeV1CollectionSanitizationStrategy,
    FileTreeV1KeySanitizationStrategy,
)

TOKEN = {
    "access_token": "a" * 120,
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "r" * 60,
    "scope": "read write",
}
KEYS = [f"key-{i}" for i in range(100)]


async def measure(name, call, seconds):
    for _ in range(20):  # warm up
        await call()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or calls < 5:
        await call()
        calls += 1
    micros = (time.perf_counter() - started) / calls * 1e6
    print(f"{name} {micros:.2f}", flush=True)


async def run(label, store, seconds):
    await store.put_many(KEYS, [TOKEN] * 100, collection="c")
    await measure(f"{label}/get", lambda: store.get("key-7", collection="c"), seconds)
    await measure(f"{label}/put", lambda: store.put("key-7", TOKEN, collection="c"), seconds)
    await measure(f"{label}/get_many_100", lambda: store.get_many(KEYS, collection="c"), seconds)
    await measure(f"{label}/put_many_100", lambda: store.put_many(KEYS, [TOKEN] * 100, collection="c"), seconds)
    await measure(f"{label}/delete", lambda: store.delete("gone", collection="c"), seconds)


async def main(seconds, parent):
    with tempfile.TemporaryDirectory(dir=parent) as directory:
        store = FileTreeStore(
            data_directory=directory,
            key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(directory=Path(directory)),
            collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(directory=Path(directory)),
        )
        await run("py_filetree", store, seconds)
    with tempfile.TemporaryDirectory(dir=parent) as directory:
        await run("py_diskstore", DiskStore(directory=directory), seconds)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0, sys.argv[2] if len(sys.argv) > 2 else None))
