"""py-key-value-aio's DynamoDBStore under the workload of the Rust benchmark's
comparison: TASKS concurrent asyncio tasks, each doing ROUNDS rounds of one put and one
get of its own key (a token-sized value), against the DynamoDB endpoint given.

Usage: python python_store.py ENDPOINT TABLE [TASKS] [ROUNDS] [--no-ttl-setup]

--no-ttl-setup skips the store's one-time UpdateTimeToLive call (by replacing its
module-level helper with a no-op) so that it can start on dynalite, which lacks that
operation; gets and puts run unchanged.
Prints one JSON line: {"ops": ..., "seconds": ..., "ops_per_second": ...}.
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


async def no_ttl_setup(*args, **kwargs) -> None:
    return None


async def main() -> None:
    flags = [arg for arg in sys.argv[1:] if arg.startswith("--")]
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    endpoint, table = args[0], args[1]
    tasks = int(args[2]) if len(args) > 2 else 64
    rounds = int(args[3]) if len(args) > 3 else 10
    if "--no-ttl-setup" in flags:
        dynamodb_store._enable_dynamodb_ttl = no_ttl_setup
    store = DynamoDBStore(
        table_name=table,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="keyvalue-emulator",
        aws_secret_access_key="keyvalue-emulator",
    )
    async with store:
        # Warm up: table setup, connection pool.
        await store.put(key="warm", value=VALUE, collection="bench")
        await store.get(key="warm", collection="bench")

        async def worker(task: int) -> None:
            key = f"py-{task}"
            for _ in range(rounds):
                await store.put(key=key, value=VALUE, collection="bench")
                got = await store.get(key=key, collection="bench")
                assert got == VALUE

        started = time.perf_counter()
        await asyncio.gather(*(worker(task) for task in range(tasks)))
        seconds = time.perf_counter() - started
    ops = tasks * rounds * 2
    print(json.dumps({"ops": ops, "seconds": seconds, "ops_per_second": ops / seconds}))


asyncio.run(main())
