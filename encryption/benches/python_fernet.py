"""py-key-value's FernetEncryptionWrapper, measured like benches/throughput.rs.

Put and get of 1 KB and 64 KB values (compact JSON size) through the wrapper over an
in-process store, and through the bare store, in operations per second.

Run from the workspace root:
    target/py/kv/bin/python encryption/benches/python_fernet.py
"""

import asyncio
import json
import time
import warnings

from cryptography.fernet import Fernet
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper

try:  # needs the `memory` extra (cachetools), which the test venv may lack
    from key_value.aio.stores.memory import MemoryStore as Store

    STORE = "MemoryStore"
except ImportError:
    from key_value.aio.stores.simple import SimpleStore as Store

    STORE = "SimpleStore"

SECONDS = 2.0

# Each store instance warns that the store API is unstable; irrelevant here.
warnings.filterwarnings("ignore", category=UserWarning)


def value(size: int) -> dict:
    v = {"blob": "x" * (size - 11)}
    assert len(json.dumps(v, separators=(",", ":"))) == size
    return v


async def rate(op) -> float:
    """Operations per second of `op`, run for about SECONDS after a warm-up."""
    for _ in range(50):
        await op()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for _ in range(20):
            await op()
        n += 20
    return n / elapsed


async def main() -> None:
    print(f"py-key-value-aio over {STORE}, {SECONDS:.0f} s per measurement")
    print(f"{'benchmark':<24}{'ops/s':>12}{'µs/op':>10}")
    for label, size in (("1KB", 1024), ("64KB", 64 * 1024)):
        v = value(size)
        for op in ("put", "get"):
            for name, store in (
                ("memory", Store()),
                ("fernet+memory", FernetEncryptionWrapper(Store(), fernet=Fernet(Fernet.generate_key()))),
            ):
                await store.put("k", v, collection="bench")
                if op == "put":
                    fn = lambda: store.put("k", v, collection="bench")  # noqa: E731
                else:
                    fn = lambda: store.get("k", collection="bench")  # noqa: E731
                ops = await rate(fn)
                print(f"{op + '/' + label + '/' + name:<24}{ops:>12.0f}{1e6 / ops:>10.1f}")


asyncio.run(main())
