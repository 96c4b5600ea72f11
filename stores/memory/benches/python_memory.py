"""py-key-value's MemoryStore under the workloads of vs_python.rs.

Usage (from the workspace root):
    target/py/kv/bin/python stores/memory/benches/python_memory.py ops SECONDS
    target/py/kv/bin/python stores/memory/benches/python_memory.py rss ENTRIES

`ops` prints `py_memory/<workload> <operations per second>`; `rss` prints the growth of
the process's peak resident set per entry, `py_memory/bytes_per_entry <bytes>` (run it in
a process of its own). The value is an object whose compact JSON is 100 bytes.
"""

import asyncio
import json
import sys
import time
import warnings

from key_value.aio.stores.memory import MemoryStore

warnings.filterwarnings("ignore", category=UserWarning)

BATCH = 100
TASKS = 64


def value(n):
    v = {"id": f"{n % 100_000_000:08d}", "scope": "read write", "blob": "x" * 46, "n": n % 10}
    assert len(json.dumps(v, separators=(",", ":"))) == 100
    return v


def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


async def rss(entries):
    store = MemoryStore()
    await store.put("warm", value(0))
    await store.delete("warm")
    before = status_bytes("VmRSS:")
    for n in range(entries):
        await store.put(f"key-{n:06d}", value(n))
    peak = status_bytes("VmHWM:")
    assert await store.get("key-000000") is not None
    print(f"py_memory/bytes_per_entry {(peak - before) / entries:.1f}")


async def measure(name, seconds, ops_per_round, round_):
    for _ in range(200):
        await round_()
    rounds = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(20):
            await round_()
        rounds += 20
    elapsed = time.perf_counter() - started
    print(f"py_memory/{name} {rounds * ops_per_round / elapsed:.0f}", flush=True)


async def ops(seconds):
    store = MemoryStore()
    c = "bench"
    keys = [f"k{i}" for i in range(BATCH)]
    values = [value(i) for i in range(BATCH)]
    one = value(0)
    await store.put_many(keys, values, collection=c)

    async def get():
        await store.get("k1", collection=c)

    async def put():
        await store.put("p", one, collection=c)

    async def get_many():
        await store.get_many(keys, collection=c)

    async def put_many():
        await store.put_many(keys, values, collection=c)

    async def one_task(task):
        key = f"t{task}"
        await store.put(key, one, collection=c)
        await store.get(key, collection=c)

    async def concurrent():
        await asyncio.gather(*(one_task(t) for t in range(TASKS)))

    await measure("get", seconds, 1, get)
    await measure("put", seconds, 1, put)
    await measure("get_many_100", seconds, BATCH, get_many)
    await measure("put_many_100", seconds, BATCH, put_many)
    await measure("concurrent_64", seconds, 2 * TASKS, concurrent)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "ops"
    if mode == "rss":
        asyncio.run(rss(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000))
    else:
        asyncio.run(ops(float(sys.argv[2]) if len(sys.argv) > 2 else 2.0))
