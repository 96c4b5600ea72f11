"""py-key-value's MemoryStore under the workloads of vs_python.rs.

Usage (from the workspace root):
    target/py/kv/bin/python stores/memory/benches/python_memory.py ops SECONDS
    target/py/kv/bin/python stores/memory/benches/python_memory.py serve
    target/py/kv/bin/python stores/memory/benches/python_memory.py rss ENTRIES

`ops` runs each workload for SECONDS and prints `py_memory/<workload> <operations per
second> <per second of CPU time>` (`time.process_time`, which leaves out the time a
hypervisor takes from the virtual CPUs). `serve` reads lines `<workload> <seconds>` on
stdin and answers each with that line, so that `interleave.py` can alternate it with the
Rust side in short slices; a workload is warmed up the first time it is asked for. `rss`
prints the growth of the process's peak resident set per entry,
`py_memory/bytes_per_entry <bytes>` (run it in a process of its own). The value is an
object whose compact JSON is 100 bytes.
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


async def measure(name, seconds, ops_per_round, round_, warm_up=True):
    if warm_up:
        for _ in range(200):
            await round_()
    rounds = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(20):
            await round_()
        rounds += 20
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    operations = rounds * ops_per_round
    print(f"py_memory/{name} {operations / elapsed:.0f} {operations / cpu:.0f}", flush=True)


async def workloads():
    """The workloads by name: (operations per round, one round)."""
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

    return {
        "get": (1, get),
        "put": (1, put),
        "get_many_100": (BATCH, get_many),
        "put_many_100": (BATCH, put_many),
        "concurrent_64": (2 * TASKS, concurrent),
    }


async def ops(seconds):
    for name, (ops_per_round, round_) in (await workloads()).items():
        await measure(name, seconds, ops_per_round, round_)


async def serve():
    known = await workloads()
    warm = set()
    for line in sys.stdin:
        name, seconds = line.split()
        ops_per_round, round_ = known[name]
        await measure(name, float(seconds), ops_per_round, round_, warm_up=name not in warm)
        warm.add(name)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "ops"
    if mode == "rss":
        asyncio.run(rss(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000))
    elif mode == "serve":
        asyncio.run(serve())
    else:
        asyncio.run(ops(float(sys.argv[2]) if len(sys.argv) > 2 else 2.0))
