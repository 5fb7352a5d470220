"""Python-level calls per operation: the profile behind "Where the time goes".

    python -m benchmarks.calls lock --backends pike,uvloop,rloop
    python -m benchmarks.calls event_pingpong --native

Wall-clock ratios on a shared machine swing more than most changes to pike's
hot paths; the number of calls cProfile sees per operation (Python functions
and the C builtins they call) does not. Each workload runs once to warm up,
then once more under the profiler; the report gives calls per operation and
the functions that account for most of them, so a change's effect on the
work done can be read without a quiet machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections.abc import Callable
from typing import Any

from benchmarks.backends import native_module, run_anyio
from benchmarks.native import NATIVE_WORKLOADS
from benchmarks.workloads import WORKLOADS


def _ops(result: Any, default: int) -> float:
    """Operations a workload reports (a count, or a dict with ``ops``)."""
    if isinstance(result, dict):
        return float(result.get("ops", default))
    return float(result) if isinstance(result, (int, float)) else float(default)


def profile(run: Callable[[], Any], size: int, top: int) -> list[str]:
    """Warm ``run`` up, profile a second call, and describe calls per operation."""
    run()
    profiler = cProfile.Profile()
    profiler.enable()
    result = run()
    profiler.disable()
    ops = _ops(result, size)
    # pstats' raw table: (file, line, name) -> (primitive calls, calls, tottime, cumtime, callers)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # pstats documents .stats but typeshed omits it
    total = sum(row[1] for row in stats.values())
    lines = [f"{total / ops:.1f} calls/op"]
    ranked = sorted(stats.items(), key=lambda item: -item[1][1])[:top]
    for (filename, line, name), row in ranked:
        where = filename.rsplit("site-packages/", 1)[-1]
        lines.append(f"  {row[1] / ops:6.2f}/op  {row[2] * 1e9 / ops:7.0f} ns/op own  "
                     f"{where}:{line}({name})")
    return lines


def _runner(workload: str, backend: str, native: bool, size: int) -> Callable[[], Any]:
    """A no-argument call that runs ``workload`` once on ``backend``."""
    if native:
        program = NATIVE_WORKLOADS[workload].func
        mod = native_module(backend)
        return lambda: mod.run(program, mod, size)
    func = WORKLOADS[workload].func
    return lambda: run_anyio(backend, func, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("workload")
    parser.add_argument("--backends", default="pike",
                        help="comma-separated (anyio suite: pike,asyncio,uvloop,rloop,trio; "
                             "native: pike,trio)")
    parser.add_argument("--native", action="store_true", help="the native suite (pike.run)")
    parser.add_argument("--size", type=int, default=20_000, help="operations per run")
    parser.add_argument("--top", type=int, default=12, help="functions listed per backend")
    args = parser.parse_args(argv)
    if args.size <= 0:
        parser.error("--size must be positive")
    known = NATIVE_WORKLOADS if args.native else WORKLOADS
    if args.workload not in known:
        parser.error(f"unknown workload {args.workload!r}; known: {', '.join(known)}")

    for backend in args.backends.split(","):
        run = _runner(args.workload, backend, args.native, args.size)
        suite = "native" if args.native else "anyio"
        report = profile(run, args.size, args.top)
        print(f"== {suite} {args.workload} on {backend}, Python {sys.version.split()[0]}: "
              f"{report[0]}")
        print("\n".join(report[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
