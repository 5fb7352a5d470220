"""Throwaway virtual environments for running the gate on another anyio or Python.

`python -m conformance --anyio 4.9.0 [--python /path/to/python3.13]` builds (or
reuses) `.cache/venvs/anyio-4.9.0-py3.13`: that interpreter's venv with that anyio,
anyio's own test dependencies (read from its sdist's pyproject: the `test`
dependency group, or the `test` extra in older releases), pike's runtime
dependencies and pike itself (editable, from this checkout, without its declared
anyio range, so a version pike_anyio does not yet claim can still be tried).
The harness then runs inside it, as `python -m conformance` with the same
arguments minus these options.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from conformance.suite import CACHE, SuiteError, fetch_suite

ROOT = Path(__file__).resolve().parent.parent
VENVS = CACHE / "venvs"
_COMPLETE = ".conformance-venv-complete"
#: What the harness itself needs, whatever anyio asks for.
HARNESS_DEPS = ("pytest-timeout>=2.3", "trio")


def pytest_requirement(requirements: list[str], old_callspec: bool = False) -> str:
    """The pytest to install: below 9 unless anyio's tests ask for 9.

    The pytest plugin of some anyio releases (4.13, 4.14) imports `CallSpec2`,
    which pytest 9.2 deprecates; anyio's warnings-as-errors setting turns that
    into a failure of every run, so those get a pytest from before 9.2. The
    harness's own plugin needs pytest < 10.
    """
    for requirement in requirements:
        name = _NAME.match(requirement)
        if name and name.group(1).lower() == "pytest" and re.search(r">=\s*9", requirement):
            return "pytest>=9,<9.2" if old_callspec else "pytest>=9,<10"
    return "pytest>=8,<9"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def python_version(python: str) -> str:
    """"3.13" for the interpreter at `python`; SuiteError if it does not run."""
    try:
        proc = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SuiteError(f"cannot run {python}: {exc}") from exc
    if proc.returncode != 0:
        raise SuiteError(f"cannot run {python}: exit {proc.returncode}")
    return proc.stdout.strip()


def anyio_test_requirements(suite: Path) -> list[str]:
    """anyio's test requirements, from its sdist's pyproject, with its own extras resolved."""
    data = tomllib.loads((suite / "pyproject.toml").read_text())
    project = data.get("project", {})
    extras = project.get("optional-dependencies", {})
    groups = data.get("dependency-groups", {})
    listed = groups.get("test") or extras.get("test") or []
    requirements: list[str] = []
    for item in listed:
        if not isinstance(item, str):
            continue  # {include-group = ...}: none that the tests need
        name = _NAME.match(item)
        if name and name.group(1).lower() == "anyio":  # "anyio[trio]": its own extras
            for extra in re.findall(r"\[([^\]]*)\]", item)[:1]:
                for part in extra.split(","):
                    requirements += [r for r in extras.get(part.strip(), []) if isinstance(r, str)]
            continue
        if name and name.group(1).lower() == "coverage":
            continue  # not needed to run the tests
        requirements.append(item.strip())
    return requirements


def pike_requirements() -> list[str]:
    """pike's runtime dependencies, except anyio (the venv pins its own)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data.get("project", {}).get("dependencies", [])
    return [dep for dep in deps
            if (m := _NAME.match(dep)) is None or m.group(1).lower() != "anyio"]


def ensure_venv(anyio_version: str, python: str) -> Path:
    """The interpreter of a ready venv for (anyio, python), building it if needed."""
    tag = python_version(python)
    root = VENVS / f"anyio-{anyio_version}-py{tag}"
    exe = root / "bin" / "python"
    if (root / _COMPLETE).exists() and exe.exists():
        return exe
    suite = fetch_suite(anyio_version)
    print(f"conformance: building {root} (anyio {anyio_version}, Python {tag})", flush=True)
    _run([python, "-m", "venv", "--clear", str(root)], "creating the venv")
    pip = [str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    wanted = anyio_test_requirements(suite)
    tests = [r for r in wanted if (m := _NAME.match(r)) is None or m.group(1).lower() != "pytest"]
    plugin = suite / "src" / "anyio" / "pytest_plugin.py"
    old_callspec = plugin.exists() and "CallSpec2" in plugin.read_text()
    _run([*pip, f"anyio=={anyio_version}", *tests, pytest_requirement(wanted, old_callspec),
          *pike_requirements(), *HARNESS_DEPS],
         f"installing anyio {anyio_version} and its test dependencies")
    _run([*pip, "--no-deps", "-e", str(ROOT)], "installing pike (editable)")
    (root / _COMPLETE).touch()
    return exe


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise SuiteError(f"{what} failed: {lines[-1] if lines else proc.returncode}")


def run_in_venv(exe: Path, argv: list[str]) -> int:
    """`python -m conformance argv` inside the venv; its exit code.

    PYTHONPATH is set to this checkout's sources alone, so nothing from the
    calling environment (another anyio, say) can shadow the venv's packages.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("PYTHONHOME", None)
    return subprocess.call([str(exe), "-m", "conformance", *argv], cwd=ROOT, env=env)


def current_python() -> str:
    return sys.executable
