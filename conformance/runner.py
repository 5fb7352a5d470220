"""Run one pytest process per backend, a few at a time, each under a wall-clock cap.

Separate processes keep one backend's global state (event loop policies, thread
pools, a wedged kernel) from leaking into another's results. pytest-timeout fails
a single hanging test; the cap catches whatever hangs outside a test (collection,
teardown of the session). A capped process is killed with its whole process group
(nested pytest runs included); its unfinished tests become "missing".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.backends import BACKENDS_ENV, RunSpec
from conformance.outcomes import ERROR, NO_BACKEND, TIMEOUT, RunResult, load_run, none_column

PACKAGE_DIR = Path(__file__).resolve().parent
STALL_GRACE = 15.0  # seconds of silence, beyond the per-test timeout, that mean "wedged"
MAX_RESTARTS = 25  # resumptions after a hang or crash, per run
NORMAL_EXITS = (0, 1, 5)  # pytest: all passed, some failed, nothing collected


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
    wrapper: tuple[str, ...] = ()  # command prefix, e.g. a private network namespace


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
    return [*settings.wrapper, *cmd, *settings.targets, *settings.pytest_args]


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
    settings: RunSettings
    out: Path
    log: Path
    basetemp: Path
    started: float
    proc: subprocess.Popen[bytes] | None = None
    progress_size: int = -1
    progress_time: float = 0.0
    restarts: int = 0
    killed: bool = False
    notes: list[str] = field(default_factory=list)


def run_all(specs: Sequence[RunSpec], settings: RunSettings) -> list[RunResult]:
    """Run every spec with the same settings; see `run_jobs`."""
    return run_jobs([(spec, settings) for spec in specs])


def run_jobs(jobs: Sequence[tuple[RunSpec, RunSettings]]) -> list[RunResult]:
    """Run every (spec, settings) job, at most `jobs` (of the first) at once, in order.

    A process that stops reporting for longer than the per-test timeout plus
    STALL_GRACE is wedged where pytest-timeout cannot reach (a thread holding the
    main thread up, say): it is killed, its test recorded as a hang, and the run
    resumed after it. A process that crashes mid-test is resumed the same way.
    """
    if not jobs:
        return []
    width = max(1, jobs[0][1].jobs)
    pending = list(enumerate(jobs))
    running: list[tuple[int, _Running]] = []
    results: dict[int, RunResult] = {}
    try:
        while pending or running:
            while pending and len(running) < width:
                index, (spec, settings) = pending.pop(0)
                settings.workdir.mkdir(parents=True, exist_ok=True)
                running.append((index, _start(spec, settings)))
            time.sleep(0.2)
            for index, job in list(running):
                if _step(job, job.settings):
                    running.remove((index, job))
                    results[index] = _finish(job, job.settings)
    finally:  # interrupted: the pytest processes live in their own sessions, end them
        for _, job in running:
            if job.proc is not None:
                _kill_group(job.proc)
                job.proc.wait()
            shutil.rmtree(job.basetemp, ignore_errors=True)
    return [results[index] for index in range(len(jobs))]


def _step(job: _Running, settings: RunSettings) -> bool:
    """Watch one job; True when it is done for good."""
    assert job.proc is not None
    now = time.monotonic()
    if job.proc.poll() is None:
        size = job.out.stat().st_size if job.out.exists() else 0
        if size != job.progress_size:
            job.progress_size, job.progress_time = size, now
        if now - job.started > settings.cap:
            job.killed = True
        elif now - job.progress_time <= settings.timeout + STALL_GRACE:
            return False
        _kill_group(job.proc)
        job.proc.wait()
    _kill_group(job.proc)  # stragglers the tests left behind
    if job.killed or job.proc.returncode in NORMAL_EXITS:
        return True
    culprit = _in_flight(job.out)
    if culprit is None or job.restarts >= MAX_RESTARTS:
        return True
    code = job.proc.returncode
    if code == -signal.SIGKILL:
        event, outcome = "hung", TIMEOUT
        why = (f"hung past the {settings.timeout:g}s timeout where pytest-timeout could not"
               " stop it; the process was killed")
    else:
        event, outcome = "crashed", ERROR
        why = f"pytest or the process died during this test (exit {code}, see the log)"
    _append(job.out, event="result", nodeid=culprit, outcome=outcome,
            message=f"{why}; the run resumed after it")
    job.notes.append(f"{event} in {culprit}")
    job.restarts += 1
    _launch(job, settings, resume=True)
    return False


def _in_flight(out: Path) -> str | None:
    """The test that started last and has no result, if any."""
    started: str | None = None
    for line in out.read_text().splitlines() if out.exists() else ():
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            if record.get("event") == "started":
                started = record["nodeid"]
            elif record.get("event") == "result" and record.get("nodeid") == started:
                started = None
    return started


def _append(out: Path, **record: object) -> None:
    with open(out, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(spec: RunSpec, settings: RunSettings) -> _Running:
    slug = spec.name.replace("+", "-")
    out = settings.workdir / f"{slug}.jsonl"
    log = settings.workdir / f"{slug}.log"
    out.unlink(missing_ok=True)
    log.unlink(missing_ok=True)
    # Short, private base directory: anyio's tests bind UNIX sockets under tmp_path,
    # and those paths are limited to about 100 bytes.
    basetemp = Path(tempfile.mkdtemp(prefix=f"pikeconf-{slug}-"))
    job = _Running(spec, settings, out, log, basetemp, time.monotonic())
    _launch(job, settings, resume=False)
    return job


def _launch(job: _Running, settings: RunSettings, resume: bool) -> None:
    cmd = _command(job.spec, settings, job.out, job.basetemp / f"t{job.restarts}")
    if resume:
        cmd.insert(cmd.index("-q"), "--conformance-resume")
    with open(job.log, "ab") as log_file:
        job.proc = subprocess.Popen(cmd, cwd=settings.suite, env=_environment(job.spec, settings),
                                    stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    job.progress_size, job.progress_time = -1, time.monotonic()


def _finish(job: _Running, settings: RunSettings) -> RunResult:
    assert job.proc is not None
    result = load_run(job.out, job.spec.name, job.spec.reference)
    for label in job.spec.labels:  # a run that reported nothing still has its columns
        column = none_column(job.spec.name, job.spec.reference) if label == NO_BACKEND else label
        result.columns.setdefault(column, {})
    result.exit_code = job.proc.returncode
    result.elapsed = time.monotonic() - job.started
    result.resumed = job.notes
    if job.killed:
        result.note = f"killed at the {settings.cap:.0f}s wall-clock cap"
    elif not result.finished:
        result.note = f"ended abnormally (exit {job.proc.returncode}); see {job.log}"
    elif job.proc.returncode not in NORMAL_EXITS:
        result.note = f"pytest exit code {job.proc.returncode}; see {job.log}"
    shutil.rmtree(job.basetemp, ignore_errors=True)
    return result
