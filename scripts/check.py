"""Run every check CI runs, in order, and stop at the first failure.

This is the README's test command (after the install step); `.ci/run` calls it.
Each step is a separate process so one step's imports or global state cannot
mask another's failure. pytest's exit code 5 ("no tests collected") counts as a
failure: a green run must have run something.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

STEPS: list[tuple[str, list[str]]] = [
    ("ruff", [PY, "-m", "ruff", "check", "src", "tests", "conformance", "benchmarks",
              "examples", "scripts"]),
    ("mypy --strict src", [PY, "-m", "mypy", "--strict", "src"]),
    ("pike tests", [PY, "-m", "pytest", "-q", "tests"]),
    ("conformance harness self-tests", [PY, "-m", "pytest", "-q", "conformance/tests"]),
    ("anyio conformance", [PY, "-m", "conformance", "--gate", "--poll"]),
    ("benchmark smoke", [PY, "-m", "benchmarks", "--smoke"]),
]


def main(argv: list[str]) -> int:
    only = set(argv)
    for name, cmd in STEPS:
        if only and not any(word in name for word in only):
            continue
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=ROOT)
        print(f"=== {name}: exit {code} in {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            if code == 5:
                print(f"=== {name}: no tests were collected; that is a failure here")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
