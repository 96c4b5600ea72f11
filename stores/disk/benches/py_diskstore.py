"""py-key-value-aio's DiskStore doing the work of benches/disk.rs, for a side-by-side run.

Run with the Python peer: target/py/kv/bin/python stores/disk/benches/py_diskstore.py
Prints one line per operation: `py_diskstore/<op> <microseconds per call>`.
"""

import asyncio
import sys
import tempfile
import time

from key_value.aio.stores.disk import DiskStore

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
    while time.perf_counter() - started < seconds:
        await call()
        calls += 1
    micros = (time.perf_counter() - started) / calls * 1e6
    print(f"py_diskstore/{name} {micros:.2f}", flush=True)


async def main(seconds):
    with tempfile.TemporaryDirectory() as directory:
        store = DiskStore(directory=directory)
        await store.put_many(KEYS, [TOKEN] * 100, collection="c")
        await measure("get", lambda: store.get("key-7", collection="c"), seconds)
        await measure("put", lambda: store.put("key-7", TOKEN, collection="c"), seconds)
        await measure("get_many_100", lambda: store.get_many(KEYS, collection="c"), seconds)
        await measure("put_many_100", lambda: store.put_many(KEYS, [TOKEN] * 100, collection="c"), seconds)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
