"""Command line: fetch the suite, run the backends, compare, report, and gate.

    python -m conformance --gate                 # what CI runs
    python -m conformance --backend pike         # one backend, quick
    python -m conformance --backend pike tests/test_taskgroups.py -k cancel -- -x
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from conformance.backends import (
    COMPARISONS,
    PIKE_POLL,
    RUNS,
    RunSpec,
    probe,
    source_fingerprint,
)
from conformance.compare import compare_all
from conformance.gate import gate
from conformance.known import KnownFailuresError, load_known
from conformance.outcomes import TestResult
from conformance.plugin import NO_IPV6_LOCALHOST
from conformance.report import Report, render
from conformance.retry import apply_retries, retry_plan
from conformance.runner import PACKAGE_DIR, RunSettings, new_workdir, run_all
from conformance.suite import CACHE, SuiteError, fetch_suite, installed_anyio_version

DEFAULT_RUNS = ("pike", "none", "asyncio", "trio")  # longest first: they start first
REPORT = PACKAGE_DIR / "report.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run anyio's own test suite on pike, asyncio and trio, and compare.",
        epilog="Arguments after '--' go to every pytest process unchanged.",
    )
    parser.add_argument("targets", nargs="*",
                        help="test files or node ids inside anyio's tests (default: all)")
    parser.add_argument("--gate", action="store_true",
                        help="exit 1 on unexpected pike regressions or fixed known failures")
    parser.add_argument("--backend", action="append", choices=sorted(RUNS), dest="backends",
                        help="run only this (repeatable; 'none': tests without a backend"
                        " parameter); default: pike, none, asyncio, trio")
    parser.add_argument("--poll", action="store_true",
                        help="also run pike with the portable poll notifier (pike+poll)")
    parser.add_argument("--no-retry", action="store_false", dest="retry",
                        help="do not run unexpected pike failures a second time")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="pytest processes at once (default: CPU count)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="per-test timeout in seconds (default 30)")
    parser.add_argument("--cap", type=float, default=900.0,
                        help="wall-clock cap per pytest process in seconds (default 900)")
    parser.add_argument("--limit", type=int, default=25,
                        help="tests shown per printed list (report.md has them all)")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    return parser


def _specs(args: argparse.Namespace) -> list[RunSpec]:
    names = list(args.backends or DEFAULT_RUNS)
    if args.poll and PIKE_POLL.name not in names:
        names.insert(names.index("pike") + 1 if "pike" in names else 0, PIKE_POLL.name)
    return [RUNS[name] for name in dict.fromkeys(names)]


def _targets(suite: Path, targets: list[str]) -> tuple[str, ...]:
    """Accept paths relative to anyio's tree or to its tests/ directory."""
    fixed = []
    for target in targets:
        path = target.split("::", 1)[0]
        if not (suite / path).exists() and (suite / "tests" / path).exists():
            target = f"tests/{target}"
        fixed.append(target)
    return tuple(fixed) or ("tests",)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the runner's cleanup ends its pytest processes


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ours = argv[: argv.index("--")] if "--" in argv else argv
    if any(arg == "--suite" or arg.startswith("--suite=") for arg in ours):
        from conformance.thirdparty import main as suite_main  # a third-party library's suite

        return suite_main(argv)
    ours, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) \
        if "--" in argv else (argv, [])
    args = _parser().parse_args(ours)
    try:
        version = installed_anyio_version()
        suite = fetch_suite(version)
        known = load_known()
    except (SuiteError, KnownFailuresError) as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    specs = _specs(args)
    unavailable = {spec.name: why for spec in specs if not spec.reference
                   if (why := probe(spec)) is not None}
    for name, why in unavailable.items():
        print(f"conformance: {name} is unavailable ({why}); its tests will count as failing",
              file=sys.stderr, flush=True)
    extra = [*passthrough, *(["-k", args.keyword] if args.keyword else [])]
    settings = RunSettings(suite=suite, workdir=new_workdir(CACHE / "runs"), timeout=args.timeout,
                           cap=args.cap, jobs=max(1, args.jobs),
                           targets=_targets(suite, args.targets), pytest_args=tuple(extra))
    print(f"conformance: anyio {version}: running {', '.join(s.name for s in specs)}"
          f" ({settings.jobs} at a time; logs in {settings.workdir})", flush=True)
    fingerprint = source_fingerprint()
    runs = run_all(specs, settings)

    columns: dict[str, dict[str, TestResult]] = {}
    for run in runs:
        columns.update(run.columns)
    pairs = [(subject, refs) for subject, refs, _ in COMPARISONS]
    variants = {subject: table for subject, _, table in COMPARISONS}
    comparisons = compare_all(columns, pairs)
    flaky: list[tuple[str, str]] = []
    notes: list[str] = []
    if source_fingerprint() != fingerprint:
        notes.append("pike's source changed while the suite ran: the runs mix versions,"
                     " so failures were not run again")
    elif args.retry and (plan := retry_plan(comparisons, variants, known, runs)):
        print(f"conformance: running the files of {sum(len(r.tests) for r in plan.values())}"
              " failing test(s) again", flush=True)
        for name, retry in plan.items():
            again = replace(settings, workdir=settings.workdir / "retry",
                            targets=tuple(retry.files),
                            pytest_args=(*settings.pytest_args, *retry.pytest_args()))
            flaky += apply_retries(columns, run_all([RUNS[name]], again)[0], retry.tests)
        comparisons = compare_all(columns, pairs)
    no_ipv6 = {test for column in columns.values() for test, result in column.items()
               if result.message.endswith(NO_IPV6_LOCALHOST)}
    if no_ipv6:
        notes.append(f"{len(no_ipv6)} tests need an IPv6 `localhost`, which this machine lacks;"
                     " they are skipped on every backend")
    full_run = not args.targets and not extra
    verdict = gate(comparisons, variants, columns, known, runs, full_run) if args.gate else None
    if verdict is not None:
        verdict.problems[:0] = [f"{name} is unavailable: {why}"
                                for name, why in unavailable.items()]

    if not notes and source_fingerprint() != fingerprint:
        notes.append("pike's source changed while failures were run again: a failure that"
                     " passed the second time may have been fixed, not flaky")
    data = Report(version, runs, columns, comparisons, variants, known, unavailable, verdict,
                  flaky, notes)
    args.report.write_text(render(data))
    print(render(data, limit=args.limit))
    print(f"conformance: report written to {args.report}")
    if verdict is not None and not verdict.ok:
        print("conformance: GATE FAILED:\n" + "\n".join(f"  {p}" for p in verdict.problems),
              file=sys.stderr)
        return 1
    return 0
