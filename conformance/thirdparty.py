"""Run an anyio-based library's own test suite on pike, trio and asyncio, and compare.

    python -m conformance --suite httpx               # the installed httpx's sdist
    python -m conformance --suite starlette -- -x     # args after '--' go to pytest
    python -m conformance --suite ./mylib-1.2.tar.gz  # any sdist (or unpacked tree)

The suite comes from the sdist of the version that is installed (pip download
--no-binary :all:), because the tests must match the code they exercise; the
sdist's own copy of the package is removed so the installed one is what runs
(a directory given as the suite is used as it is: its sources, if any, shadow).
Modules the tests import but the environment lacks are installed, as collection
reports them, into a directory of the suite's own that only its pytest processes
see (at the end of sys.path), so the environment itself is never modified.

Each backend runs in its own pytest process with `anyio_backend` forced to it
(see `_inject/pike_suite_backend.py`). The verdict follows the anyio gate's rule:
a test failing on pike is a problem only if it does not also fail on trio, the
reference backend whose semantics pike follows. Such failures are run once more
on pike so a flaky test is reported as flaky rather than as a regression.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from conformance.suite import CACHE, SuiteError, extract_tar

SUITES = CACHE / "thirdparty"
KNOWN = Path(__file__).resolve().parent / "thirdparty_known.toml"
INJECT = Path(__file__).resolve().parent / "_inject"
PLUGIN = "pike_suite_backend"
DEPS_ENV = "PIKE_SUITE_DEPS"  # read by the plugin
SUBJECT, REFERENCE = "pike", "trio"
BACKENDS = (SUBJECT, REFERENCE, "asyncio")
BAD = frozenset({"failed", "error"})
_COMPLETE = ".suite-complete"
_MISSING = re.compile(r"No module named '([\w.]+)'")
# import name -> distribution name, where the two differ
_DIST_NAMES = {
    "yaml": "PyYAML", "multipart": "python-multipart", "python_multipart": "python-multipart",
    "PIL": "Pillow", "dateutil": "python-dateutil", "OpenSSL": "pyOpenSSL",
    "jose": "python-jose", "opentelemetry.sdk": "opentelemetry-sdk",
    "opentelemetry": "opentelemetry-api", "socks": "PySocks", "zstandard": "zstandard",
    "brotli": "Brotli", "google.protobuf": "protobuf",
}
_INSTALL_ROUNDS = 10


@dataclass
class Suite:
    name: str
    version: str
    root: Path
    tests: str


@dataclass
class BackendRun:
    backend: str
    exit_code: int
    seconds: float
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, *kinds: str) -> int:
        return sum(1 for result in self.outcomes.values() if result["outcome"] in kinds)


# --- fetching --------------------------------------------------------------------------------

def _pkg_info(root: Path) -> tuple[str, str]:
    text = (root / "PKG-INFO").read_text(errors="replace") if (root / "PKG-INFO").is_file() else ""
    fields = dict(re.findall(r"^(Name|Version): *(.+)$", text, re.MULTILINE))
    if "Name" not in fields or "Version" not in fields:
        raise SuiteError(f"{root} has no PKG-INFO with Name and Version: is it an sdist?")
    return fields["Name"].strip(), fields["Version"].strip()


def _download(name: str, dist_version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), f"{name}=={dist_version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    archives = sorted([*dest.glob("*.tar.gz"), *dest.glob("*.zip")])
    if proc.returncode != 0 or not archives:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise SuiteError(f"pip download of the {name}=={dist_version} sdist failed: {reason}")
    return archives[0]


def _unpack(archive: Path, dest: Path) -> Path:
    if archive.name.endswith(".zip"):
        shutil.unpack_archive(archive, dest)
    else:
        extract_tar(archive, dest)
    roots = [path for path in dest.iterdir() if path.is_dir()]
    if len(roots) != 1:
        raise SuiteError(f"{archive.name} does not unpack to one directory")
    return roots[0]


def fetch(spec: str, cache: Path = SUITES) -> Suite:
    """The unpacked sdist for `spec`: an installed distribution's name, an archive, a tree."""
    path = Path(spec)
    if path.is_dir():
        name, dist_version = _pkg_info(path)
        return _suite(name, dist_version, path)
    cache.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        key = path.name.removesuffix(".tar.gz").removesuffix(".zip")
    else:
        try:
            dist_version = version(spec)
        except PackageNotFoundError:
            raise SuiteError(f"{spec!r} is neither an installed distribution nor a path") from None
        key = f"{spec}-{dist_version}"
    root = cache / key
    if not (root / _COMPLETE).exists():
        with tempfile.TemporaryDirectory(dir=cache, prefix="fetch-") as tmp:
            archive = path if path.is_file() else _download(spec, dist_version, Path(tmp))
            extracted = _unpack(archive, Path(tmp) / "unpacked")
            _drop_shadowing_sources(extracted)
            (extracted / _COMPLETE).touch()
            if root.exists():
                shutil.rmtree(root)
            extracted.rename(root)
    name, dist_version = _pkg_info(root)
    return _suite(name, dist_version, root)


def _suite(name: str, dist_version: str, root: Path) -> Suite:
    for tests in ("tests", "test"):
        if (root / tests).is_dir():
            return Suite(name, dist_version, root, tests)
    raise SuiteError(f"the {name} {dist_version} sdist has no tests/ directory")


def _drop_shadowing_sources(root: Path) -> None:
    """Remove the sdist's copy of its packages, so the tests import the installed ones.

    pytest puts the suite's root on sys.path (its `tests` is a package there), which
    would otherwise make `import httpx` load the unpacked, unbuilt source.
    """
    for candidate in [root, root / "src"]:
        for package in candidate.glob("*/__init__.py"):
            if package.parent.name not in ("tests", "test", "docs", "scripts"):
                shutil.rmtree(package.parent)


# --- test requirements -----------------------------------------------------------------------

def _constraints(workdir: Path) -> Path:
    """Pin every installed distribution, so installing test modules changes none of them."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable",
                             "--disable-pip-version-check"],
                            capture_output=True, text=True, check=False).stdout
    pins = [line for line in frozen.splitlines() if "==" in line and not line.startswith("-")]
    path = workdir / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


def _dist_for(module: str) -> str:
    for probe in (module, module.split(".")[0]):
        if probe in _DIST_NAMES:
            return _DIST_NAMES[probe]
    return module.split(".")[0].replace("_", "-")


def install_requirements(suite: Suite, workdir: Path, env: dict[str, str]) -> list[str]:
    """Install the modules the suite's collection reports missing; return what was installed.

    They go to `env[DEPS_ENV]` with `pip --target`; the pins keep any dependency they
    share with the environment at the environment's version.
    """
    installed: list[str] = []
    tried: set[str] = set()
    for _ in range(_INSTALL_ROUNDS):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", PLUGIN,
             "--suite-backend", SUBJECT, "-p", "no:cacheprovider", suite.tests],
            cwd=suite.root, env=env, capture_output=True, text=True, timeout=600)
        missing = sorted({_dist_for(m) for m in _MISSING.findall(proc.stdout + proc.stderr)})
        new = [dist for dist in missing if dist not in tried]
        if not new:
            return installed
        tried.update(new)
        print(f"suite: installing test requirements {' '.join(new)}", flush=True)
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--upgrade", "--target", env[DEPS_ENV], "-c", str(_constraints(workdir)), *new],
            capture_output=True, text=True, timeout=900)
        if pip.returncode != 0:
            last = (pip.stderr or pip.stdout).strip().splitlines()[-1:]
            print(f"suite: could not install {' '.join(new)}: {' '.join(last)}", flush=True)
        else:
            installed += new
    return installed


# --- running ---------------------------------------------------------------------------------

def _env(suite: Suite) -> dict[str, str]:
    env = dict(os.environ)
    env[DEPS_ENV] = str(suite.root.parent / f"{suite.root.name}-deps")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def run_backend(suite: Suite, backend: str, workdir: Path, env: dict[str, str],
                args: list[str], timeout: float, cap: float) -> BackendRun:
    out = workdir / f"{backend}.json"
    out.unlink(missing_ok=True)
    log = workdir / f"{backend}.log"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", PLUGIN, "--suite-backend", backend,
           "--suite-out", str(out), "-p", "no:cacheprovider", f"--timeout={timeout:g}",
           *args]
    started = time.monotonic()
    with log.open("w") as stream:
        try:
            code = subprocess.run(cmd, cwd=suite.root, env=env, stdout=stream,
                                  stderr=subprocess.STDOUT, timeout=cap).returncode
        except subprocess.TimeoutExpired:
            code = -1
            stream.write(f"\nsuite: pytest was stopped after the {cap:g}s cap\n")
    outcomes = json.loads(out.read_text()) if out.is_file() else {}
    return BackendRun(backend, code, time.monotonic() - started, outcomes)


def pike_only_failures(runs: dict[str, BackendRun]) -> dict[str, str]:
    """Tests that fail on pike but not on trio (node id -> pike's failure message)."""
    subject, reference = runs[SUBJECT].outcomes, runs[REFERENCE].outcomes
    return {test: result["message"] for test, result in sorted(subject.items())
            if result["outcome"] in BAD
            and reference.get(test, {"outcome": "missing"})["outcome"] not in BAD}


def known_failures(name: str, path: Path = KNOWN) -> dict[str, str]:
    """The suite's listed pike-only failures (node id -> cause); see thirdparty_known.toml."""
    table = tomllib.loads(path.read_text()).get(name.lower(), {})
    return {str(test): str(cause) for test, cause in table.items()}


# --- command line ----------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance --suite",
        description="Run an anyio library's own test suite on pike, trio and asyncio.",
        epilog="Arguments after '--' go to every pytest process unchanged.")
    parser.add_argument("targets", nargs="*",
                        help="test files or node ids inside the sdist (default: its tests/)")
    parser.add_argument("--suite", required=True, metavar="NAME_OR_PATH",
                        help="installed distribution name, sdist archive or unpacked sdist")
    parser.add_argument("--backend", action="append", choices=BACKENDS, dest="backends",
                        help="run only this backend (repeatable; pike and trio are needed"
                        " for the verdict); default: all")
    parser.add_argument("--no-install", action="store_false", dest="install",
                        help="do not install missing test requirements")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="per-test timeout in seconds (default 60)")
    parser.add_argument("--cap", type=float, default=1800.0,
                        help="wall-clock cap per pytest process in seconds (default 1800)")
    parser.add_argument("--limit", type=int, default=40, help="failures listed (default 40)")
    return parser


def _summary(runs: dict[str, BackendRun]) -> list[str]:
    lines = [f"{'backend':8} {'passed':>7} {'failed':>7} {'errors':>7} {'skipped':>8}"
             f" {'total':>6} {'exit':>5} {'time':>6}"]
    for run in runs.values():
        lines.append(f"{run.backend:8} {run.count('passed'):7} {run.count('failed'):7}"
                     f" {run.count('error'):7} {run.count('skipped', 'xfailed'):8}"
                     f" {len(run.outcomes):6} {run.exit_code:5} {run.seconds:5.0f}s")
    return lines


def main(argv: list[str]) -> int:
    ours, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) \
        if "--" in argv else (argv, [])
    args = _parser().parse_args(ours)
    try:
        suite = fetch(args.suite)
    except SuiteError as exc:
        print(f"suite: {exc}", file=sys.stderr)
        return 2
    SUITES.mkdir(parents=True, exist_ok=True)  # a fresh clone has no cache yet
    workdir = Path(tempfile.mkdtemp(prefix=f"{suite.name}-", dir=SUITES))
    env = _env(suite)
    if args.install:
        install_requirements(suite, workdir, env)
    backends = list(dict.fromkeys(args.backends or BACKENDS))
    print(f"suite: {suite.name} {suite.version} ({suite.root}): running {', '.join(backends)}"
          f" one after another (servers on fixed ports); logs in {workdir}", flush=True)
    pytest_args = [*passthrough, *(args.targets or [suite.tests])]
    runs = {backend: run_backend(suite, backend, workdir, env, pytest_args, args.timeout,
                                 args.cap) for backend in backends}
    print("\n".join(_summary(runs)))
    # pytest exits 0 or 1 when it ran the suite; 2-5 mean interrupted, internal or usage
    # errors, or nothing collected, and a run that stopped early proves nothing
    broken = [run.backend for run in runs.values() if run.exit_code not in (0, 1)]
    if broken:
        print(f"suite: the {', '.join(broken)} run did not complete (see {workdir}/*.log):"
              " a failure", file=sys.stderr)
        return 1
    if SUBJECT not in runs or REFERENCE not in runs:
        return 0
    only = pike_only_failures(runs)
    if only:
        retry = workdir / "retry"
        retry.mkdir()
        again = run_backend(suite, SUBJECT, retry, env, [*passthrough, *only], args.timeout,
                            args.cap)
        flaky = sorted(test for test in only
                       if again.outcomes.get(test, {}).get("outcome") not in BAD | {None})
        for test in flaky:
            del only[test]
        if flaky:
            print(f"suite: {len(flaky)} pike failure(s) passed when run again (flaky):")
            print("\n".join(f"  {test}" for test in flaky))
    known = known_failures(suite.name)
    for test in sorted(set(known) & set(only)):
        print(f"suite: known, not counted: {test}: {known[test]}")
        del only[test]
    for test in sorted(known):
        if runs[SUBJECT].outcomes.get(test, {}).get("outcome") == "passed":
            print(f"suite: {test} is listed in {KNOWN.name} but passed on pike: remove it")
    trio_bad = runs[REFERENCE].count(*BAD)
    print(f"suite: {suite.name} {suite.version}: {len(only)} failure(s) on pike that do not"
          f" also fail on trio (trio itself fails {trio_bad})")
    for test, message in list(only.items())[: args.limit]:
        print(f"  {test}: {message}")
    if len(only) > args.limit:
        print(f"  ... and {len(only) - args.limit} more (see {workdir / 'pike.json'})")
    return 1 if only else 0
