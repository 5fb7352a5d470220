"""Command line: fetch the suite, run the backends, compare, report, and gate.

    python -m conformance --gate                 # what CI runs
    python -m conformance --backend pike         # one backend, quick
    python -m conformance --backend pike tests/test_taskgroups.py -k cancel -- -x
    python -m conformance --gate --anyio 4.9.0     # another anyio, in a throwaway venv
    python -m conformance --gate --python /root/.pyenv/versions/3.13.0/bin/python
    python -m conformance --matrix                 # every anyio minor from 4.9 x Pythons
"""

from __future__ import annotations

import argparse
import json
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
from conformance.netns import host_has_ipv6_localhost, namespace_wrapper
from conformance.outcomes import MISSING, NO_IPV6_LOCALHOST, TestResult
from conformance.report import Report, render, summary
from conformance.rerun import Judgement, Rerun, judge, plan_reruns
from conformance.runner import PACKAGE_DIR, RunSettings, new_workdir, run_all, run_jobs
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
                        help="do not rerun unexpected pike failures alone (on pike and the"
                        " references) to tell regressions from flakes and environment failures")
    parser.add_argument("--no-netns", action="store_false", dest="netns",
                        help="do not run pytest in a private network namespace with an IPv6"
                        " localhost (by default used where /etc/hosts lacks one, as root)")
    parser.add_argument("--anyio", metavar="VERSION",
                        help="run anyio VERSION's suite in a throwaway venv (built under"
                        " conformance/.cache/venvs, reused) instead of the installed anyio")
    parser.add_argument("--python", metavar="PATH",
                        help="the interpreter for that venv (default: this one); alone, it"
                        " runs the installed anyio's version on that interpreter")
    parser.add_argument("--matrix", action="store_true",
                        help="run the gate for every anyio minor from 4.9 (newest patch) on"
                        " every Python 3.11-3.13 found, and print a summary table")
    parser.add_argument("--matrix-anyio", metavar="V1,V2",
                        help="with --matrix: these anyio versions instead")
    parser.add_argument("--matrix-python", metavar="P1,P2",
                        help="with --matrix: these interpreters instead")
    parser.add_argument("--summary-json", type=Path, default=None,
                        help="also write the counts and the verdict as JSON here")
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


def _rerun(plan: list[Rerun], settings: RunSettings,
           columns: dict[str, dict[str, TestResult]]) -> Judgement:
    """Run each planned test alone, one process per variant, and judge the outcomes."""
    keys = list(dict.fromkeys(key for rerun in plan
                              for key in (rerun.subject, *rerun.references.values())))
    jobs = [(RUNS[run], replace(settings, workdir=settings.workdir / "rerun" / f"{i:03d}",
                                targets=(nodeid,)))
            for i, (run, nodeid) in enumerate(keys)]
    outcomes: dict[tuple[str, str], TestResult] = {}
    for (run, nodeid), result in zip(keys, run_jobs(jobs), strict=True):
        found = [r for column in result.columns.values() for r in column.values()
                 if r.nodeid == nodeid]
        outcomes[(run, nodeid)] = found[0] if found else TestResult(MISSING, "not rerun")
    return judge(plan, outcomes, columns)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the runner's cleanup ends its pytest processes


def _print_counts(counts: dict[str, object]) -> None:
    columns = counts["columns"]
    comparisons = counts["comparisons"]
    assert isinstance(columns, dict) and isinstance(comparisons, dict)
    for name, c in columns.items():
        print(f"conformance: {name}: {c['passed']} passed, {c['failed']} failed,"
              f" {c['skipped']} skipped")
    for name, c in comparisons.items():
        print(f"conformance: {name}: {c['regressions']} regression(s), {c['known']} known,"
              f" {c['shared']} shared with a reference, {c['flaky']} flaky,"
              f" {c['skipped_only_here']} skipped only here, {c['not_collected']} not collected")


_ELSEWHERE = {"--anyio": True, "--python": True, "--matrix": False, "--matrix-anyio": True,
              "--matrix-python": True, "--gate": False}


def _without(argv: list[str], drop: tuple[str, ...]) -> list[str]:
    """`argv` without the named options (and their values)."""
    kept: list[str] = []
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if "--" in argv and index >= argv.index("--"):
            kept.append(arg)
            continue
        name = arg.split("=", 1)[0]
        if name in drop:
            skip = _ELSEWHERE[name] and "=" not in arg
            continue
        kept.append(arg)
    return kept


def _elsewhere(args: argparse.Namespace, argv: list[str]) -> int | None:
    """Run in another environment (venv, matrix) if asked; None to run here."""
    from conformance import matrix, venvs  # only when asked: they shell out to pip

    try:
        if args.matrix:
            versions = (args.matrix_anyio.split(",") if args.matrix_anyio
                        else matrix.anyio_releases())
            pythons = (args.matrix_python.split(",") if args.matrix_python
                       else matrix.find_pythons())
            rest = _without(argv, ("--matrix", "--matrix-anyio", "--matrix-python", "--gate",
                                   "--anyio", "--python"))
            return matrix.run_matrix(versions, pythons, rest)
        if args.anyio or args.python:
            exe = venvs.ensure_venv(args.anyio or installed_anyio_version(),
                                    args.python or sys.executable)
            return venvs.run_in_venv(exe, _without(argv, ("--anyio", "--python")))
    except SuiteError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    return None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ours = argv[: argv.index("--")] if "--" in argv else argv
    if any(arg == "--suite" or arg.startswith("--suite=") for arg in ours):
        from conformance.thirdparty import main as suite_main  # a third-party library's suite

        return suite_main(argv)
    ours, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) \
        if "--" in argv else (argv, [])
    args = _parser().parse_args(ours)
    if (code := _elsewhere(args, argv)) is not None:
        return code
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
    workdir = new_workdir(CACHE / "runs")
    wrapper: tuple[str, ...] = ()
    notes: list[str] = []
    if args.netns and not host_has_ipv6_localhost():
        wrapper, why = namespace_wrapper(workdir)
        if why is not None:
            notes.append(f"no private network namespace for an IPv6 `localhost`: {why}")
            print(f"conformance: {notes[-1]}", file=sys.stderr, flush=True)
        else:
            kind = "network+mount" if "--net" in wrapper else "mount"
            notes.append(f"pytest ran in a private {kind} namespace where `localhost` is"
                         " 127.0.0.1 and ::1 (conformance/netns.py)")
    settings = RunSettings(suite=suite, workdir=workdir, timeout=args.timeout,
                           cap=args.cap, jobs=max(1, args.jobs),
                           targets=_targets(suite, args.targets), pytest_args=tuple(extra),
                           wrapper=wrapper)
    print(f"conformance: anyio {version} on Python {sys.version.split()[0]}: running"
          f" {', '.join(s.name for s in specs)} ({settings.jobs} at a time;"
          f" logs in {settings.workdir})", flush=True)
    fingerprint = source_fingerprint()
    runs = run_all(specs, settings)

    columns: dict[str, dict[str, TestResult]] = {}
    for run in runs:
        columns.update(run.columns)
    pairs = [(subject, refs) for subject, refs, _ in COMPARISONS]
    variants = {subject: table for subject, _, table in COMPARISONS}
    comparisons = compare_all(columns, pairs)
    flaky: list[tuple[str, str]] = []
    mixed = source_fingerprint() != fingerprint
    if mixed:
        notes.append("pike's source changed while the suite ran: the runs mix versions,"
                     " so failures were not run again")
    elif args.retry and (plan := plan_reruns(comparisons, variants, known, runs, columns)):
        print(f"conformance: rerunning {len(plan)} failing test(s) alone, on pike and on"
              " the references", flush=True)
        judgement = _rerun(plan, settings, columns)
        flaky = judgement.flaky
        comparisons = compare_all(columns, pairs, judgement.shared)
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

    if not mixed and source_fingerprint() != fingerprint:
        notes.append("pike's source changed while failures were run again: a failure that"
                     " passed the second time may have been fixed, not flaky")
    data = Report(version, runs, columns, comparisons, variants, known, unavailable, verdict,
                  flaky, notes)
    args.report.write_text(render(data))
    print(render(data, limit=args.limit))
    print(f"conformance: report written to {args.report}")
    counts = summary(data)
    if args.summary_json is not None:
        args.summary_json.write_text(json.dumps(counts, indent=1))
    _print_counts(counts)
    if verdict is not None and not verdict.ok:
        print("conformance: GATE FAILED:\n" + "\n".join(f"  {p}" for p in verdict.problems),
              file=sys.stderr)
        return 1
    return 0
