"""The runs the harness knows: which backend labels each pytest process keeps.

Reference runs (asyncio, trio, and "none" for the tests without a backend
parameter) use anyio exactly as shipped. Pike runs register "pike" as an extra
backend; the main pike run also takes the backend-free tests, because registering
a backend changes what they see (anyio's pytest-plugin tests count
`get_available_backends()` and run nested suites on every backend), and compares
them with the "none" run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conformance.outcomes import NO_BACKEND

#: Comma-separated backend names the plugin adds to anyio's built-in list.
BACKENDS_ENV = "PIKE_CONFORMANCE_BACKENDS"


@dataclass(frozen=True)
class RunSpec:
    """One pytest process: a name, the labels it keeps, and what it registers."""

    name: str
    labels: tuple[str, ...]
    extra_backends: tuple[str, ...] = ()
    poll: bool = False
    options: tuple[tuple[str, str], ...] = ()  # backend_options of the variant

    @property
    def reference(self) -> bool:
        return not self.extra_backends


ASYNCIO = RunSpec("asyncio", ("asyncio",))
TRIO = RunSpec("trio", ("trio",))
UVLOOP = RunSpec("asyncio+uvloop", ("asyncio+uvloop",))  # on request only
NONE = RunSpec(NO_BACKEND, (NO_BACKEND,))  # the backend-free tests, as shipped
PIKE = RunSpec("pike", ("pike", NO_BACKEND), extra_backends=("pike",))
PIKE_POLL = RunSpec("pike+poll", ("pike+poll",), extra_backends=("pike",), poll=True,
                    options=(("notifier", "poll"),))

RUNS = {spec.name: spec for spec in (ASYNCIO, UVLOOP, TRIO, NONE, PIKE, PIKE_POLL)}
REFERENCES = ("asyncio", "trio")

#: (subject column, reference columns, known-failures table) pairs the gate checks.
COMPARISONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("pike", REFERENCES, "pike"),
    (f"{NO_BACKEND}@pike", (NO_BACKEND,), "pike"),
    ("pike+poll", REFERENCES, "pike+poll"),
)

_PROBE = """\
import sys, anyio
async def main():
    await anyio.sleep(0)
try:
    anyio.run(main, backend=sys.argv[1], backend_options=dict(a.split('=') for a in sys.argv[2:]))
except BaseException as exc:
    why = f"{type(exc).__name__}: {exc}"
    if exc.__cause__ is not None:
        why += f" (from {type(exc.__cause__).__name__}: {exc.__cause__})"
    print(why.splitlines()[0][:300], file=sys.stderr)
    raise SystemExit(1)
"""


def probe(spec: RunSpec, timeout: float = 60.0) -> str | None:
    """None if `anyio.run(..., backend=...)` works for the run's backend, else why not.

    Runs in a fresh interpreter so a broken backend cannot hurt the harness.
    """
    backend = spec.name.split("+")[0]
    args = [f"{key}={value}" for key, value in spec.options]
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, backend, *args],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"anyio.run(backend={backend!r}) hung for {timeout:.0f}s"
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def source_fingerprint(packages: tuple[str, ...] = ("pike", "pike_anyio")) -> str:
    """A digest of the pike sources' names, sizes and mtimes, without importing them.

    In a shared checkout pike can change while the suite runs (editable install);
    then the runs mix versions, and a failure that "passes on retry" was fixed,
    not flaky. Comparing fingerprints tells.
    """
    digest = hashlib.sha256()
    for name in packages:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(location).rglob("*.py")):
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
