"""Per-process entry: run one workload on one backend and print one result line.

The orchestrator starts a fresh ``python -m benchmarks.worker`` for every
(round, workload, backend), so no backend inherits another's imports, thread
pools, heap or caches, and a crash or hang is pinned on exactly one workload.

Inside the process the measured region is only the workload coroutine itself:
interpreter start-up, imports and event-loop creation are outside it.  A
smaller warm-up run on the same backend goes first so that lazy imports
(anyio imports its backend module on first use) and first-call costs are paid
before the clock starts — identically for every backend.

The result is a single line ``BENCH-RESULT {json}`` on stdout; anything else a
library prints is ignored by the orchestrator.  Exit status 0 means the
workload ran; 1 means it raised (the traceback is in the JSON and on stderr).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "


def _describe_loop() -> str:
    """Name the event loop actually running, to catch a silent backend mix-up
    (say, uvloop not engaged, or the pike backend falling back to asyncio)."""
    import sniffio

    library = sniffio.current_async_library()
    if library == "asyncio":
        import asyncio

        loop = type(asyncio.get_running_loop())
        return f"asyncio:{loop.__module__}.{loop.__qualname__}"
    return library


def _missing_loop_feature(exc: BaseException, backend: str) -> str | None:
    """Name the event-loop method that made this run impossible, if there is one.

    Some third-party asyncio loops leave parts of the loop API unimplemented
    (rloop 0.5 raises ``NotImplementedError`` from ``connect_accepted_socket``,
    which anyio's TCP listener needs). Such a run measures nothing, but it is no
    failure of the benchmark either: it is reported as "n/a" with the reason.
    Other errors in the same group (a client whose server never started) are
    its consequences. Only a ``NotImplementedError`` raised by the loop's own
    package qualifies, and never on pike, whose gaps are bugs.
    """
    if backend == "pike":
        return None
    pending, gaps = [exc], set()
    while pending:
        current = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
            continue
        frames = traceback.extract_tb(current.__traceback__)
        if isinstance(current, NotImplementedError) and frames:
            package = Path(frames[-1].filename).parent.name
            if package not in ("anyio", "asyncio", "benchmarks", "pike", "pike_anyio"):
                gaps.add(f"{package}: loop.{frames[-1].name}() raises NotImplementedError")
    return "; ".join(sorted(gaps)) or None


async def _timed(func: Callable[[int], Awaitable[Any]], n: int) -> dict[str, Any]:
    # Wall time is the headline; process CPU time (all threads) is kept as a
    # diagnostic: if cpu_seconds is well below seconds on a CPU-bound workload,
    # the process was waiting — or the machine was busy with something else.
    cpu_started = time.process_time()
    started = time.perf_counter()
    outcome = await func(n)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    loop = _describe_loop()
    if isinstance(outcome, dict):  # self-timed workload (HTTP)
        outcome = dict(outcome)
        outcome["loop"] = loop
        return outcome
    return {"ops": float(outcome), "seconds": seconds, "cpu_seconds": cpu_seconds, "loop": loop}


async def _native_timed(
    mod: Any, func: Callable[[Any, int], Awaitable[float]], n: int
) -> dict[str, Any]:
    cpu_started = time.process_time()
    started = time.perf_counter()
    ops = await func(mod, n)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {"ops": float(ops), "seconds": seconds, "cpu_seconds": cpu_seconds,
            "loop": mod.__name__}


def run_anyio_workload(backend: str, name: str, size: int, warmup_size: int) -> dict[str, Any]:
    """Warm up, then time one anyio workload on *backend*."""
    from benchmarks.backends import run_anyio
    from benchmarks.workloads import WORKLOADS

    workload = WORKLOADS[name]
    if workload.warmup and warmup_size > 0:
        run_anyio(backend, _timed, workload.func, warmup_size)
    gc.collect()
    return run_anyio(backend, _timed, workload.func, size)


def run_native_workload(backend: str, name: str, size: int, warmup_size: int) -> dict[str, Any]:
    """Warm up, then time one native workload with ``pike.run`` / ``trio.run``."""
    from benchmarks.backends import native_module
    from benchmarks.native import NATIVE_WORKLOADS

    mod = native_module(backend)
    workload = NATIVE_WORKLOADS[name]
    if warmup_size > 0:
        mod.run(_native_timed, mod, workload.func, warmup_size)
    gc.collect()
    result: dict[str, Any] = mod.run(_native_timed, mod, workload.func, size)
    return result


def probe(suite: str, backend: str) -> dict[str, Any]:
    """Check that *backend* can run at all: ``anyio.run(anyio.sleep, 0)`` on it
    (or ``mod.run(mod.sleep, 0)`` natively), and report what actually ran."""
    if suite == "native":
        from benchmarks.backends import native_module

        mod = native_module(backend)
        mod.run(mod.sleep, 0)
        return {"loop": mod.__name__, "version": getattr(mod, "__version__", "?")}

    import anyio

    from benchmarks.backends import run_anyio

    async def check() -> str:
        await anyio.sleep(0)
        return _describe_loop()

    loop = run_anyio(backend, check)
    expected = {"uvloop": "asyncio:uvloop", "rloop": "asyncio:rloop",
                "asyncio": "asyncio:asyncio", "trio": "trio", "pike": "pike"}[backend]
    if not loop.startswith(expected):
        raise RuntimeError(f"backend {backend!r} ran on {loop!r}, expected {expected!r}")
    return {"loop": loop}


def main(argv: list[str]) -> int:
    """CLI entry point (see module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("--suite", choices=("anyio", "native"), default="anyio")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--workload")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--warmup-size", type=int, default=0)
    parser.add_argument("--probe", action="store_true", help="only check the backend runs")
    parser.add_argument("--http-client", default="auto", choices=("auto", "wrk", "python"))
    parser.add_argument("--http-connections", type=int, default=50)
    parser.add_argument("--http-requests", type=int, default=None)
    args = parser.parse_args(argv)

    try:
        if args.probe:
            result = probe(args.suite, args.backend)
        elif args.suite == "native":
            result = run_native_workload(args.backend, args.workload, args.size,
                                         args.warmup_size)
        else:
            from benchmarks import http_workload

            http_workload.SETTINGS.client = args.http_client
            http_workload.SETTINGS.connections = args.http_connections
            http_workload.SETTINGS.max_requests = args.http_requests
            result = run_anyio_workload(args.backend, args.workload, args.size,
                                        args.warmup_size)
    except BaseException as exc:  # report *everything*, incl. KeyboardInterrupt/groups
        tb = "".join(traceback.format_exception(exc))
        sys.stderr.write(tb)
        line = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": tb}
        missing = _missing_loop_feature(exc, args.backend)
        if missing:
            line["unsupported"] = missing
        print(RESULT_PREFIX + json.dumps(line), flush=True)
        return 1
    result["ok"] = True
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
