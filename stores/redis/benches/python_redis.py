"""py-key-value's RedisStore under the same workloads as benches/redis.rs.

Usage: target/py/kv/bin/python stores/redis/benches/python_redis.py REDIS_URL [SECONDS]

Prints one line per workload: operations per second and microseconds per operation.
`concurrent_64` runs 64 asyncio tasks at once, each a put then a get of its own key,
as the Rust benchmark's `concurrent_64` group does with tokio tasks.
"""

import asyncio
import sys
import time

from key_value.aio.stores.redis import RedisStore

TASKS = 64
BATCH = 100


def token(n):
    return {"access_token": "a" * 120, "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "r" * 60, "scope": "read write", "n": n}


async def measure(name, seconds, ops_per_round, round_):
    # Warm up, then run whole rounds for about `seconds`.
    for _ in range(20):
        await round_()
    rounds = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        await round_()
        rounds += 1
    elapsed = time.perf_counter() - started
    ops = rounds * ops_per_round
    print(f"{name:14} {ops / elapsed:12.0f} ops/s {elapsed / ops * 1e6:10.1f} us/op")


async def main(url, seconds):
    store = RedisStore(url=url)
    keys = [f"k{i}" for i in range(BATCH)]
    values = [token(i) for i in range(BATCH)]
    value = token(0)
    await store.put_many(keys, values, collection="pybench")

    async def get():
        await store.get("k1", collection="pybench")

    async def put():
        await store.put("p", value, collection="pybench")

    async def get_many():
        await store.get_many(keys, collection="pybench")

    async def put_many():
        await store.put_many(keys, values, collection="pybench")

    async def one_task(task):
        key = f"t{task}"
        await store.put(key, value, collection="pybench")
        await store.get(key, collection="pybench")

    async def concurrent():
        await asyncio.gather(*(one_task(task) for task in range(TASKS)))

    await measure("get", seconds, 1, get)
    await measure("put", seconds, 1, put)
    await measure("get_many_100", seconds, BATCH, get_many)
    await measure("put_many_100", seconds, BATCH, put_many)
    await measure("concurrent_64", seconds, 2 * TASKS, concurrent)

    await store.delete_many(keys + ["p"] + [f"t{t}" for t in range(TASKS)], collection="pybench")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3.0))
