"""Alternates py-key-value's MemoryStore and ours in short slices, workload by workload.

Usage (from the workspace root; `scripts/bench-vs-python` runs it):
    target/py/kv/bin/python stores/memory/benches/interleave.py SLICE_SECONDS ROUNDS \\
        --python 'target/py/kv/bin/python stores/memory/benches/python_memory.py serve' \\
        --rust 'cargo bench -q -p key-value-memory --bench vs_python -- serve'

Both sides run as `serve` processes for the whole run, each keeping its store. For each
workload, each round measures one slice of each side, the two taking turns going first,
so that whatever else the machine does in those seconds weighs on both alike. Each slice
gives operations per second of wall-clock time and per second of the process's CPU time
(which leaves out the time a hypervisor takes from the virtual CPUs). Prints, per
workload, each side's medians (`py_memory/<workload> <ops/s> <ops per CPU-second>`,
`memory/<workload> ...`; the Python line of `concurrent_64_one_thread` is Python's
`concurrent_64` again, in the slices paired with it; `spawn_64_no_store` has no Python
side and no ratio)
and the medians of the rounds' ratios, ours over Python's, with their ranges:
`interleaved memory/<workload> <ratio> <lowest>-<highest> cpu <ratio>
<lowest>-<highest>`.
"""

import argparse
import shlex
import statistics
import subprocess
import sys

# Our workload and the Python workload it is compared with: asyncio runs its 64 tasks on
# one thread, and we measure ours both on tokio's multi-threaded runtime and on one thread.
WORKLOADS = {
    "get": "get",
    "put": "put",
    "get_many_100": "get_many_100",
    "put_many_100": "put_many_100",
    "concurrent_64": "concurrent_64",
    "concurrent_64_one_thread": "concurrent_64",
    # No store: the runtime spawning and joining the 64 tasks, the ceiling of ours. A
    # ceiling, not a comparison: Python runs nothing beside it.
    "spawn_64_no_store": None,
}


class Side:
    """A `serve` process: asked for a slice of a workload, it answers with ops/s."""

    def __init__(self, command, prefix):
        self.prefix = prefix
        self.process = subprocess.Popen(
            shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def slice(self, workload, seconds):
        self.process.stdin.write(f"{workload} {seconds}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        words = line.split()
        if len(words) != 3 or words[0] != f"{self.prefix}/{workload}":
            sys.exit(f"interleave.py: asked {self.prefix} for {workload}, got {line!r}")
        return float(words[1]), float(words[2])

    def close(self):
        self.process.stdin.close()
        if self.process.wait() != 0:
            sys.exit(f"interleave.py: the {self.prefix} side exited with {self.process.returncode}")


def medians(slices):
    """Median wall-clock and CPU-time rates of a side's slices."""
    wall = statistics.median(s[0] for s in slices)
    cpu = statistics.median(s[1] for s in slices)
    return f"{wall:.0f} {cpu:.0f}"


def spread(ratios):
    return f"{statistics.median(ratios):.2f} {min(ratios):.2f}-{max(ratios):.2f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("slice_seconds", type=float)
    parser.add_argument("rounds", type=int)
    parser.add_argument("--python", required=True)
    parser.add_argument("--rust", required=True)
    args = parser.parse_args()
    if args.rounds < 1 or args.slice_seconds <= 0:
        sys.exit("interleave.py: ROUNDS must be at least 1 and SLICE_SECONDS positive")

    python = Side(args.python, "py_memory")
    rust = Side(args.rust, "memory")
    # An untimed slice each, one after the other: neither side's first timed slice then
    # shares the machine with the other's start-up (cargo, Python's imports).
    python.slice("get", 0.01)
    rust.slice("get", 0.01)
    for ours, theirs in WORKLOADS.items():
        if theirs is None:
            rust_slices = [rust.slice(ours, args.slice_seconds) for _ in range(args.rounds)]
            print(f"memory/{ours} {medians(rust_slices)}", flush=True)
            continue
        py_slices, rust_slices = [], []
        for round_ in range(args.rounds):
            if round_ % 2 == 0:
                py_slices.append(python.slice(theirs, args.slice_seconds))
                rust_slices.append(rust.slice(ours, args.slice_seconds))
            else:
                rust_slices.append(rust.slice(ours, args.slice_seconds))
                py_slices.append(python.slice(theirs, args.slice_seconds))
        # Python's slices of this pass, under our workload's name: a row's figures and
        # its ratios come from the same slices.
        print(f"py_memory/{ours} {medians(py_slices)}")
        print(f"memory/{ours} {medians(rust_slices)}")
        wall = [r[0] / p[0] for p, r in zip(py_slices, rust_slices)]
        cpu = [r[1] / p[1] for p, r in zip(py_slices, rust_slices)]
        print(f"interleaved memory/{ours} {spread(wall)} cpu {spread(cpu)}", flush=True)
    python.close()
    rust.close()


if __name__ == "__main__":
    main()
