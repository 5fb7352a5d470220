"""Run one pytest process per backend, a few at a time, each under a wall-clock cap.

Separate processes keep one backend's global state (event loop policies, thread
pools, a wedged kernel) from leaking into another's results. pytest-timeout fails
a single hanging test; the cap catches whatever hangs outside a test (collection,
teardown of the session). A capped process is killed with its whole process group
(nested pytest runs included); its unfinished tests become "missing".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.backends import BACKENDS_ENV, RunSpec
from conformance.outcomes import NO_BACKEND, RunResult, load_run, none_column

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RunSettings:
    """What every run shares: where the suite is, limits, and what to select."""

    suite: Path
    workdir: Path  # result files, logs
    timeout: float  # per test, seconds
    cap: float  # per process, seconds
    jobs: int
    targets: tuple[str, ...] = ("tests",)
    pytest_args: tuple[str, ...] = ()


def new_workdir(parent: Path, keep: int = 5, grace: float = 3600.0) -> Path:
    """A fresh directory for this invocation's result files and logs.

    Several people (and CI) may run the harness in one checkout at once; shared
    file names would let one run overwrite another's results. Older directories
    are pruned, except the newest few and any touched within `grace` seconds.
    """
    parent.mkdir(parents=True, exist_ok=True)
    old = sorted((p for p in parent.glob("run-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in old[:-keep] if keep else old:
        if time.time() - stale.stat().st_mtime > grace:
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=time.strftime("run-%Y%m%d-%H%M%S-")))


def _import_root(workdir: Path) -> Path:
    """A directory whose only entry is this package, to put on PYTHONPATH.

    Putting the repository root there instead would also expose its own `tests`
    package, which could shadow anyio's `tests` package in the nested runs.
    """
    root = workdir / "pythonpath"
    link = root / PACKAGE_DIR.name
    root.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == PACKAGE_DIR):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(PACKAGE_DIR, target_is_directory=True)
    return root


def _command(spec: RunSpec, settings: RunSettings, out: Path, basetemp: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "conformance.plugin",
           f"--conformance-select={','.join(spec.labels)}", f"--conformance-out={out}",
           f"--timeout={settings.timeout:g}", f"--basetemp={basetemp}",
           "-p", "no:cacheprovider", "-q"]
    if spec.poll:
        cmd.append("--conformance-poll")
    return [*cmd, *settings.targets, *settings.pytest_args]


def _environment(spec: RunSpec, settings: RunSettings) -> dict[str, str]:
    env = dict(os.environ)
    for name in (BACKENDS_ENV, "PYTEST_PLUGINS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    path = [str(_import_root(settings.workdir)), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    if spec.extra_backends:
        env[BACKENDS_ENV] = ",".join(spec.extra_backends)
        env["PYTEST_PLUGINS"] = "conformance.plugin"  # for the nested pytest runs
    return env


@dataclass
class _Running:
    spec: RunSpec
    proc: subprocess.Popen[bytes]
    out: Path
    log: Path
    basetemp: Path
    started: float
    killed: bool = False


def run_all(specs: Sequence[RunSpec], settings: RunSettings) -> list[RunResult]:
    """Run every spec, at most `settings.jobs` at once, in the given order."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    pending = list(specs)
    running: list[_Running] = []
    results: dict[str, RunResult] = {}
    while pending or running:
        while pending and len(running) < settings.jobs:
            running.append(_start(pending.pop(0), settings))
        time.sleep(0.2)
        for job in list(running):
            if job.proc.poll() is None and time.monotonic() - job.started > settings.cap:
                job.killed = True
                _kill_group(job.proc)
                job.proc.wait()
            if job.proc.poll() is not None:
                _kill_group(job.proc)  # stragglers the tests left behind
                running.remove(job)
                results[job.spec.name] = _finish(job, settings)
    return [results[spec.name] for spec in specs]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(spec: RunSpec, settings: RunSettings) -> _Running:
    slug = spec.name.replace("+", "-")
    out = settings.workdir / f"{slug}.jsonl"
    log = settings.workdir / f"{slug}.log"
    out.unlink(missing_ok=True)
    # Short, private base directory: anyio's tests bind UNIX sockets under tmp_path,
    # and those paths are limited to about 100 bytes.
    basetemp = Path(tempfile.mkdtemp(prefix=f"pikeconf-{slug}-"))
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(_command(spec, settings, out, basetemp / "t"),
                                cwd=settings.suite, env=_environment(spec, settings),
                                stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return _Running(spec, proc, out, log, basetemp, time.monotonic())


def _finish(job: _Running, settings: RunSettings) -> RunResult:
    result = load_run(job.out, job.spec.name, job.spec.reference)
    for label in job.spec.labels:  # a run that reported nothing still has its columns
        column = none_column(job.spec.name, job.spec.reference) if label == NO_BACKEND else label
        result.columns.setdefault(column, {})
    result.exit_code = job.proc.returncode
    result.elapsed = time.monotonic() - job.started
    if job.killed:
        result.note = f"killed at the {settings.cap:.0f}s wall-clock cap"
    elif not result.finished:
        result.note = f"ended abnormally (exit {job.proc.returncode}); see {job.log}"
    elif job.proc.returncode not in (0, 1, 5):
        result.note = f"pytest exit code {job.proc.returncode}; see {job.log}"
    shutil.rmtree(job.basetemp, ignore_errors=True)
    return result
