"""CPU instructions per operation, counted by callgrind: a change's cost without a quiet machine.

    python -m benchmarks.instructions checkpoint
    python -m benchmarks.instructions move_on_after --native
    python -m benchmarks.instructions lock --src /tmp/old/src   # another pike tree

Timings on a shared VM drift by tens of percent between runs; the number of
instructions a workload executes does not (it varies by well under 1% from
run to run). Each measurement runs the workload in a fresh interpreter under
``valgrind --tool=callgrind`` twice, once with only the warm-up and once with
the warm-up plus ``--size`` operations; the difference divided by the
operations is the count per operation, start-up and imports cancelling out.
Instructions are not time (cache misses and branch mispredictions cost
differently), so read this beside the timed table, not instead of it. Needs
valgrind (``apt-get install valgrind``); about a minute per workload.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.native import NATIVE_WORKLOADS
from benchmarks.workloads import WORKLOADS

_WARM_UP = 200
_COLLECTED = re.compile(r"Collected : (\d+)")
_REPO = Path(__file__).resolve().parent.parent


def _child(native: bool, workload: str, backend: str, size: int) -> None:
    """Run in the measured interpreter: warm up, then ``size`` operations; print their count."""
    from benchmarks.backends import native_module, run_anyio

    if native:
        program = NATIVE_WORKLOADS[workload].func
        mod = native_module(backend)

        def run(n: int) -> object:
            return mod.run(program, mod, n)
    else:
        func = WORKLOADS[workload].func

        def run(n: int) -> object:
            return run_anyio(backend, func, n)

    run(_WARM_UP)
    ops = run(size) if size else 0
    print(ops if isinstance(ops, (int, float)) else size)


def _count(native: bool, workload: str, backend: str, size: int, src: Path) -> tuple[int, float]:
    """Instructions executed, and operations reported, by one child run."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions", "--child",
        *(["--native"] if native else []), "--backends", backend, "--size", str(size), workload,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(_REPO)])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=_REPO)
    match = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return int(match.group(1)), float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("workload")
    parser.add_argument("--backends", default="pike",
                        help="comma-separated, as for benchmarks.calls")
    parser.add_argument("--native", action="store_true", help="the native suite (pike.run)")
    parser.add_argument("--size", type=int, default=20_000, help="operations measured")
    parser.add_argument("--src", type=Path, default=_REPO / "src",
                        help="the pike source tree to import (default: this checkout's)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = NATIVE_WORKLOADS if args.native else WORKLOADS
    if args.workload not in known:
        parser.error(f"unknown workload {args.workload!r}; known: {', '.join(known)}")
    if args.child:
        _child(args.native, args.workload, args.backends, args.size)
        return 0
    if args.size <= 0:
        parser.error("--size must be positive")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    if not (args.src / "pike").is_dir():
        parser.error(f"{args.src} holds no pike package")

    suite = "native" if args.native else "anyio"
    for backend in args.backends.split(","):
        base, _ = _count(args.native, args.workload, backend, 0, args.src)
        total, ops = _count(args.native, args.workload, backend, args.size, args.src)
        print(f"{suite} {args.workload} on {backend} (Python {sys.version.split()[0]}, "
              f"pike from {args.src}): {(total - base) / ops:,.0f} instructions/op")
    return 0


if __name__ == "__main__":
    sys.exit(main())
