"""Run the suite: probe backends, interleave rounds of fresh worker processes,
take medians, report.

Fairness rules this module enforces (and why):

- **One process per (round, workload, backend).**  Nothing warm carries over
  from one backend to another, and a crash or hang is pinned on one workload.
- **Interleaved rounds.**  Round 1 runs every workload on every backend, then
  round 2 …; within a workload the backend order rotates each round.  Machine
  drift (thermal throttling, a noisy neighbour) then spreads over all backends
  instead of penalising whichever ran last.
- **Median of rounds**, not the best: the best run rewards luck.
- **No per-backend tuning**: sizes are per workload, identical for every
  backend; the only per-backend input is the backend name.
- **Never silently skip a backend.**  If a selected backend cannot even run
  ``anyio.run(anyio.sleep, 0)``, the run stops with a clear message and a
  non-zero exit: a "pike vs asyncio" benchmark without pike is no benchmark.
  ``--backends`` exists to leave a backend out deliberately.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.backends import (
    ANYIO_BACKENDS,
    FLOOR,
    FLOOR_WORKLOADS,
    NATIVE_BACKENDS,
    SUBJECT,
    canonical,
)
from benchmarks.native import NATIVE_WORKLOADS
from benchmarks.worker import RESULT_PREFIX
from benchmarks.workloads import WORKLOADS

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
RESULTS_DIR = PACKAGE_DIR / "results"
SUITES = ("anyio", "native")


@dataclass
class Job:
    """One workload of one suite, at the size chosen for this run."""

    suite: str
    workload: str
    size: int
    warmup_size: int
    unit: str
    what: str


@dataclass
class Run:
    """The outcome of one worker process."""

    round: int
    backend: str
    ok: bool
    wall: float
    ops: float = 0.0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    #: Set when the backend's event loop lacks a feature the workload needs
    #: (see ``worker._missing_loop_feature``): not a measurement, not a failure.
    unsupported: str = ""

    @property
    def rate(self) -> float:
        """Operations per second (the quantity the report compares)."""
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def child_env() -> dict[str, str]:
    """Environment for workers: the caller's, plus this checkout's ``src`` on
    ``PYTHONPATH`` so an uninstalled checkout benchmarks its own pike (an
    editable install points at the same directory, so this changes nothing
    there).  asyncio debug mode is forced off: it is a per-backend handicap."""
    env = dict(os.environ)
    src = ROOT / "src"
    if src.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(src), env.get("PYTHONPATH", "")) if p
        )
    env.pop("PYTHONASYNCIODEBUG", None)
    env.pop("PYTHONDEVMODE", None)
    return env


def spawn_worker(args: list[str], timeout: float) -> tuple[dict[str, Any] | None, str, float]:
    """Run ``python -m benchmarks.worker ARGS``; return (result JSON or None,
    diagnostic text, wall seconds)."""
    cmd = [sys.executable, "-m", "benchmarks.worker", *args]
    started = time.perf_counter()
    # Own session, so a hung worker is killed together with whatever it started
    # (the HTTP workload's load generator) and nothing is left running.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, env=child_env(), start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            wall = time.perf_counter() - started
            return None, f"timed out after {timeout:g}s (hang?)\n{stderr[-4000:]}", wall
    wall = time.perf_counter() - started
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):]), stderr, wall
    return None, (f"worker exited {proc.returncode} without a result\n"
                  f"{stdout[-2000:]}\n{stderr[-4000:]}"), wall


def probe_backends(suite_backends: dict[str, list[str]], timeout: float) -> list[str]:
    """Check every selected backend can run at all; return error messages."""
    problems = []
    for suite, backends in suite_backends.items():
        for backend in backends:
            result, diag, _ = spawn_worker(["--probe", "--suite", suite, "--backend", backend],
                                           timeout)
            if result is not None and result.get("ok"):
                continue
            how = (f"{backend}.run({backend}.sleep, 0)" if suite == "native"
                   else f"anyio.run(anyio.sleep, 0, backend={backend!r})")
            detail = result.get("traceback", "") if result else diag
            problems.append(f"{suite} backend {backend!r} is not available: {how} failed.\n"
                            f"{detail.rstrip()}")
    return problems


def run_job(job: Job, backend: str, rnd: int, opts: argparse.Namespace) -> Run:
    """Run one job on one backend in a fresh process."""
    args = ["--suite", job.suite, "--backend", backend, "--workload", job.workload,
            "--size", str(job.size), "--warmup-size", str(job.warmup_size)]
    if job.suite == "anyio" and job.workload == "http":
        args += ["--http-client", opts.http_client,
                 "--http-connections", str(opts.http_connections)]
        if opts.smoke:
            args += ["--http-requests", str(opts.http_smoke_requests)]
    result, diag, wall = spawn_worker(args, opts.timeout)
    if result is None:
        return Run(rnd, backend, False, wall, error=diag.strip().splitlines()[0] if diag else "",
                   traceback=diag)
    if not result.pop("ok", False):
        return Run(rnd, backend, False, wall, error=result.get("error", "?"),
                   traceback=result.get("traceback", ""),
                   unsupported=result.get("unsupported", ""))
    ops = float(result.pop("ops"))
    seconds = float(result.pop("seconds"))
    return Run(rnd, backend, True, wall, ops=ops, seconds=seconds, extra=result)


def build_jobs(suite: str, names: list[str] | None, smoke: bool, scale: float) -> list[Job]:
    """The jobs of one suite, sized for smoke or full runs."""
    table: dict[str, Any] = WORKLOADS if suite == "anyio" else NATIVE_WORKLOADS
    jobs = []
    for name, spec in table.items():
        if names is not None and name not in names:
            continue
        if smoke:
            size = spec.smoke_size
        elif name == "http":  # a duration in whole seconds (wrk's granularity)
            size = max(1, round(spec.size * scale))
        else:
            size = max(1, int(spec.size * scale))
        warmup = 0 if smoke else max(1, size // 10)
        jobs.append(Job(suite, name, size, warmup, spec.unit, spec.what))
    return jobs


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line (see ``python -m benchmarks --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="pike vs asyncio, asyncio+uvloop, asyncio+rloop and trio through anyio; "
                    "pike vs trio natively.",
    )
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, 1 round; fails only if a workload crashes (CI)")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (smoke: 1)")
    parser.add_argument("--backends", default=",".join(ANYIO_BACKENDS),
                        help="comma-separated subset of pike,asyncio,uvloop(=asyncio+uvloop),rloop,"
                             "trio")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated workload names (both suites); default all")
    suite = parser.add_mutually_exclusive_group()
    suite.add_argument("--native", action="store_true",
                       help="only the native suite (pike.run vs trio.run)")
    suite.add_argument("--suite", choices=("all", *SUITES), default=None,
                       help="which suites to run (default: all)")
    parser.add_argument("--subject", default=SUBJECT,
                        help="backend the ratios are about (default pike)")
    parser.add_argument("--http-client", choices=("auto", "wrk", "python"), default=None,
                        help="HTTP load generator (default: wrk if installed; smoke: python)")
    parser.add_argument("--http-connections", type=int, default=50)
    parser.add_argument("--http-smoke-requests", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every workload size (quick local looks)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per worker process (default 120; smoke 30)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument("--list", action="store_true", help="list workloads and exit")
    opts = parser.parse_args(argv)
    opts.rounds = opts.rounds or (1 if opts.smoke else 5)
    opts.timeout = opts.timeout or (30.0 if opts.smoke else 120.0)
    opts.http_client = opts.http_client or ("python" if opts.smoke else "auto")
    opts.suites = (["native"] if opts.native else
                   list(SUITES) if opts.suite in (None, "all") else [opts.suite])
    opts.subject = canonical(opts.subject)
    return opts


def _show(path: Path) -> Path:
    """A path relative to the repository when it is inside it (shorter output)."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def list_workloads() -> None:
    """Print the workload catalogue."""
    for suite, table in (("anyio", WORKLOADS), ("native", NATIVE_WORKLOADS)):
        print(f"{suite} suite:")
        for name, spec in table.items():
            print(f"  {name:<16} {spec.unit:<14} {spec.what}")


def main(argv: list[str]) -> int:
    """Entry point of ``python -m benchmarks``; returns the exit status."""
    from benchmarks import report

    opts = parse_args(argv)
    if opts.list:
        list_workloads()
        return 0
    backends = list(dict.fromkeys(canonical(b) for b in opts.backends.split(",") if b.strip()))
    unknown = [b for b in backends if b not in ANYIO_BACKENDS]
    if unknown:
        print(f"unknown backend(s): {', '.join(unknown)}; known: {', '.join(ANYIO_BACKENDS)}",
              file=sys.stderr)
        return 2
    backends.sort(key=ANYIO_BACKENDS.index)  # report order does not depend on the flag
    names = None
    if opts.workloads:
        names = [w.strip() for w in opts.workloads.split(",") if w.strip()]
        known = set(WORKLOADS) | set(NATIVE_WORKLOADS)
        bad = [w for w in names if w not in known]
        if bad:
            print(f"unknown workload(s): {', '.join(bad)}; see --list", file=sys.stderr)
            return 2

    suite_backends: dict[str, list[str]] = {}
    suite_jobs: dict[str, list[Job]] = {}
    for suite in opts.suites:
        chosen = backends if suite == "anyio" else [b for b in backends if b in NATIVE_BACKENDS]
        jobs = build_jobs(suite, names, opts.smoke, opts.scale)
        if chosen and jobs:
            suite_backends[suite], suite_jobs[suite] = chosen, jobs
    if not suite_jobs:
        print("nothing to run: no backend/workload selected for the chosen suites",
              file=sys.stderr)
        return 2

    started = time.perf_counter()
    selected = [f"{s}:{b}" for s, bs in suite_backends.items() for b in bs]
    print(f"probing backends: {', '.join(selected)}", flush=True)
    problems = probe_backends(suite_backends, opts.timeout)
    if problems:
        for problem in problems:
            print(f"\nERROR: {problem}", file=sys.stderr)
        print("\nNot benchmarking without every selected backend (a benchmark that "
              "silently skips one is no benchmark). To leave one out deliberately, pass "
              "e.g. --backends asyncio,uvloop,trio.", file=sys.stderr)
        return 3

    runs: dict[tuple[str, str], list[Run]] = {}
    load_samples: list[float] = []
    for rnd in range(opts.rounds):
        for suite, jobs in suite_jobs.items():
            order = suite_backends[suite]
            shift = rnd % len(order)
            order = order[shift:] + order[:shift]
            for job in jobs:
                # The floor rides along with the workloads it can run (see floor.py).
                floor = [FLOOR] if suite == "anyio" and job.workload in FLOOR_WORKLOADS else []
                for backend in [*order, *floor]:
                    run = run_job(job, backend, rnd + 1, opts)
                    load_samples.append(os.getloadavg()[0])
                    runs.setdefault((suite, job.workload), []).append(run)
                    status = (f"{run.rate:>14,.0f} {job.unit}" if run.ok
                              else f"n/a: {run.unsupported}" if run.unsupported
                              else f"FAILED: {run.error}")
                    print(f"[round {rnd + 1}/{opts.rounds}] {suite:<6} {job.workload:<15} "
                          f"{backend:<8} {status}  ({run.wall:.1f}s)", flush=True)
    elapsed = time.perf_counter() - started

    results = report.summarise(suite_jobs, suite_backends, runs, opts.subject)
    meta = report.metadata(opts, elapsed, load_samples)
    print()
    print(report.render_tables(results, meta))
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "suites": results}
    opts.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nJSON: {_show(opts.output)}")
    if not opts.no_chart:
        chart = report.chart(results, meta, opts.output.parent / "ratios.png")
        if chart is not None:
            print(f"chart: {_show(chart)}")
            complete = (not opts.smoke and opts.workloads is None and opts.scale == 1.0
                        and set(suite_backends.get("anyio", [])) == set(ANYIO_BACKENDS)
                        and opts.suites == list(SUITES) and not report.failures(results))
            if complete:
                published = PACKAGE_DIR / "ratios.png"
                published.write_bytes(chart.read_bytes())
                print(f"published chart for the README: {published.relative_to(ROOT)}")

    failed = report.failures(results)
    print(f"\ntotal run time: {elapsed:.0f}s on {platform.node() or 'this machine'}")
    if failed:
        print(f"\n{len(failed)} workload run(s) FAILED:", file=sys.stderr)
        for line in failed:
            print(line, file=sys.stderr)
        return 1
    return 0
