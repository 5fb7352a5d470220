"""Run every check CI runs, in order, and stop at the first failure.

This is the README's test command (after the install step); `.ci/run` calls it.
`python scripts/check.py WORD...` runs only the steps whose names contain a WORD.

Each step is a separate process so one step's imports or global state cannot
mask another's failure. pytest's exit code 5 ("no tests collected") counts as a
failure: a green run must have run something.

pike supports CPython 3.11-3.13 (pyproject's requires-python). The tests run on
each; the current interpreter serves its own version and the others run from
throwaway venvs under `.cache/venvs/` that this script creates (from pyenv's
interpreters or `python3.X` on PATH) and refreshes when pyproject.toml changes.
Every process gets PYTHONPATH=src, so the code tested is this tree's whatever
the venv's editable install points at. A missing interpreter is a failure when
CI=true and a printed skip otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".cache" / "venvs"
PYTHONS = ("3.11", "3.12", "3.13")  # keep in step with pyproject's classifiers
GATE_PYTHONS = ("3.11", "3.13")
OLDEST_ANYIO = "4.9.0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Unavailable(Exception):
    """A step cannot run here (e.g. an interpreter is missing); the message says why."""


@dataclass
class Step:
    name: str
    command: Callable[[], list[str]]  # resolved when the step runs, so it may build a venv


def _current() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _interpreter(version: str) -> str:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    path = found[-1] if found else shutil.which(f"python{version}")
    if path is None:
        raise Unavailable(f"no CPython {version} interpreter (looked in ~/.pyenv/versions"
                          f" and for python{version} on PATH)")
    return path


def python(version: str) -> str:
    """A Python `version` with `.[dev]` installed: this one, or a venv built for it."""
    if version == _current():
        return sys.executable
    venv = VENVS / f"py{version}"
    exe = venv / "bin" / "python"
    stamp = venv / ".installed"
    pyproject = ROOT / "pyproject.toml"
    if stamp.exists() and exe.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return str(exe)
    base = _interpreter(version)
    print(f"=== building {venv} from {base}", flush=True)
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-e", f"{ROOT}[dev]"], check=True)
    stamp.touch()
    return str(exe)


def _steps() -> list[Step]:
    def fixed(*cmd: str) -> Callable[[], list[str]]:
        return lambda: list(cmd)

    def on(version: str, *args: str) -> Callable[[], list[str]]:
        return lambda: [python(version), *args]

    py = sys.executable
    steps = [
        Step("ruff", fixed(py, "-m", "ruff", "check", "src", "tests", "conformance",
                           "benchmarks", "examples", "scripts", "stress")),
        Step("mypy --strict", fixed(py, "-m", "mypy", "--strict", "src", "tests", "conformance",
                                    "benchmarks")),
        *[Step(f"pike tests on {v}", on(v, "-m", "pytest", "-q", "tests")) for v in PYTHONS],
        Step("conformance harness self-tests", fixed(py, "-m", "pytest", "-q",
                                                     "conformance/tests")),
        *[Step(f"anyio conformance gate on {v}",
               on(v, "-m", "conformance", "--gate", *(["--poll"] if v == _current() else [])))
          for v in GATE_PYTHONS],
        # the harness builds (and caches) a venv with that anyio and this tree's pike
        Step(f"anyio conformance gate on anyio {OLDEST_ANYIO}",
             fixed(py, "-m", "conformance", "--gate", "--anyio", OLDEST_ANYIO)),
        Step("benchmark smoke", fixed(py, "-m", "benchmarks", "--smoke")),
        *[Step(f"{name} suite on pike vs trio", fixed(py, "-m", "conformance", "--suite", name))
          for name in ("httpx", "starlette")],
    ]
    return steps


#: Programs from the OS's packages that some tests drive (guest mode under a Tk
#: host needs a virtual X server), and the Debian package that brings each.
SYSTEM_TOOLS = {"Xvfb": "xvfb"}


def ensure_system_tools() -> None:
    """Install what SYSTEM_TOOLS lists, so a fresh machine runs every test.

    Only as root with apt-get (these machines); elsewhere the tests that need a
    tool skip with the reason, except under CI, where a missing tool fails.
    """
    missing = [pkg for tool, pkg in SYSTEM_TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"=== installing {', '.join(missing)} with apt-get", flush=True)
        quiet = subprocess.DEVNULL
        subprocess.run(["apt-get", "update", "-qq"], check=False, stdout=quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, stdout=quiet)
    still = [tool for tool in SYSTEM_TOOLS if shutil.which(tool) is None]
    if still:
        message = f"missing system tools: {', '.join(still)}"
        if IN_CI:
            raise Unavailable(message)
        print(f"=== {message}: the tests that need them will skip", flush=True)


def main(argv: list[str]) -> int:
    only = set(argv)
    # Started as a background job, this process may have inherited SIGINT ignored,
    # which every step's children would inherit too (anyio's and pike's Ctrl-C
    # tests send SIGINT to children). A handler of our own is reset to the default
    # action in each child instead.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ensure_system_tools()
    except Unavailable as exc:
        print(f"\n=== cannot run under CI: {exc}", flush=True)
        return 1
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    started_all = time.monotonic()
    skipped: list[str] = []
    for step in _steps():
        if only and not any(word in step.name for word in only):
            continue
        try:
            cmd = step.command()
        except subprocess.CalledProcessError as exc:
            print(f"\n=== {step.name}: setting up failed: {exc}", flush=True)
            return 1
        except Unavailable as exc:
            if IN_CI:
                print(f"\n=== {step.name}: cannot run under CI: {exc}", flush=True)
                return 1
            print(f"\n=== {step.name}: SKIPPED: {exc} (a failure under CI=true)", flush=True)
            skipped.append(step.name)
            continue
        print(f"\n=== {step.name}: {' '.join(cmd)}", flush=True)
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=ROOT, env=env)
        print(f"=== {step.name}: exit {code} in {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            if code == 5:
                print(f"=== {step.name}: no tests were collected; that is a failure here")
            return 1
    print(f"\n=== all checks passed in {time.monotonic() - started_all:.0f}s"
          + (f"; SKIPPED: {', '.join(skipped)}" if skipped else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
