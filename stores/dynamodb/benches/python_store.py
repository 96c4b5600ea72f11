"""py-key-value-aio's DynamoDBStore under the workloads of the Rust benchmark.

Usage:
  python python_store.py ENDPOINT TABLE [TASKS] [ROUNDS] [--no-ttl-setup]
  python python_store.py ENDPOINT TABLE --workloads=SECONDS [--no-ttl-setup]

The first form is the Rust benchmark's comparison: TASKS concurrent asyncio tasks, each
doing ROUNDS rounds of one put and one get of its own key (a token-sized value). It
prints one JSON line: {"ops": ..., "seconds": ..., "ops_per_second": ...}.

The second form, for scripts/bench-vs-python, runs each workload of `dynamodb.rs` for
about SECONDS after a warm-up: get and put of one key, get_many and put_many of 100 keys
(100 operations each), 64 concurrent tasks each putting then getting its own key (128
operations). It prints one line per workload, `<workload> <ops/s> ops/s <us> us/op`.

--no-ttl-setup skips the store's one-time UpdateTimeToLive call (by replacing its
module-level helper with a no-op) so that it can start on dynalite, which lacks that
operation; gets and puts run unchanged.
"""

import asyncio
import json
import sys
import time

import key_value.aio.stores.dynamodb.store as dynamodb_store
from key_value.aio.stores.dynamodb import DynamoDBStore

VALUE = {
    "access_token": "x" * 40,
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "openid profile",
}
COLLECTION = "bench"
BATCH = 100


async def no_ttl_setup(*args, **kwargs) -> None:
    return None


async def measure(name, seconds, ops_per_round, round_):
    # Warm up, then run whole rounds for about `seconds`.
    for _ in range(3):
        await round_()
    rounds = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        await round_()
        rounds += 1
    elapsed = time.perf_counter() - started
    ops = rounds * ops_per_round
    print(f"{name:14} {ops / elapsed:12.0f} ops/s {elapsed / ops * 1e6:10.1f} us/op", flush=True)


async def workloads(store, seconds: float, tasks: int) -> None:
    keys = [f"many-{i}" for i in range(BATCH)]
    values = [VALUE] * BATCH
    await store.put(key="one", value=VALUE, collection=COLLECTION)
    await store.put_many(keys, values, collection=COLLECTION)

    async def get():
        assert await store.get(key="one", collection=COLLECTION) is not None

    async def put():
        await store.put(key="one", value=VALUE, collection=COLLECTION)

    async def get_many():
        got = await store.get_many(keys, collection=COLLECTION)
        assert all(value is not None for value in got)

    async def put_many():
        await store.put_many(keys, values, collection=COLLECTION)

    async def one_task(task):
        key = f"task-{task}"
        await store.put(key=key, value=VALUE, collection=COLLECTION)
        assert await store.get(key=key, collection=COLLECTION) is not None

    async def concurrent():
        await asyncio.gather(*(one_task(task) for task in range(tasks)))

    await measure("get", seconds, 1, get)
    await measure("put", seconds, 1, put)
    await measure("get_many_100", seconds, BATCH, get_many)
    await measure("put_many_100", seconds, BATCH, put_many)
    await measure("concurrent_64", seconds, 2 * tasks, concurrent)


async def rounds_of_tasks(store, tasks: int, rounds: int) -> None:
    # Warm up: table setup, connection pool.
    await store.put(key="warm", value=VALUE, collection=COLLECTION)
    await store.get(key="warm", collection=COLLECTION)

    async def worker(task: int) -> None:
        key = f"py-{task}"
        for _ in range(rounds):
            await store.put(key=key, value=VALUE, collection=COLLECTION)
            got = await store.get(key=key, collection=COLLECTION)
            assert got == VALUE

    started = time.perf_counter()
    await asyncio.gather(*(worker(task) for task in range(tasks)))
    seconds = time.perf_counter() - started
    ops = tasks * rounds * 2
    print(json.dumps({"ops": ops, "seconds": seconds, "ops_per_second": ops / seconds}))


async def main() -> None:
    flags = [arg for arg in sys.argv[1:] if arg.startswith("--")]
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    endpoint, table = args[0], args[1]
    tasks = int(args[2]) if len(args) > 2 else 64
    rounds = int(args[3]) if len(args) > 3 else 10
    if "--no-ttl-setup" in flags:
        dynamodb_store._enable_dynamodb_ttl = no_ttl_setup
    seconds = next((float(flag.split("=", 1)[1]) for flag in flags if flag.startswith("--workloads=")), None)
    store = DynamoDBStore(
        table_name=table,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="keyvalue-emulator",
        aws_secret_access_key="keyvalue-emulator",
    )
    async with store:
        if seconds is None:
            await rounds_of_tasks(store, tasks, rounds)
        else:
            await workloads(store, seconds, tasks)


asyncio.run(main())
