"""`python -m conformance --matrix`: the gate over every anyio minor from 4.9, times Pythons.

Each cell is a separate `python -m conformance --gate --anyio X --python P` (its
own venv, see `venvs.py`) writing a JSON summary; the table of all cells is
printed and written to `.cache/matrix.md`. anyio versions default to the newest
release of each minor from MIN_MINOR on (asked of the package index with `pip
index versions anyio`); Pythons default to the 3.11-3.13 interpreters found on
PATH or under pyenv.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conformance.suite import CACHE, SuiteError

MIN_MINOR = (4, 9)
PYTHON_MINORS = (11, 12, 13)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def newest_per_minor(versions: list[str], minimum: tuple[int, int] = MIN_MINOR) -> list[str]:
    """The newest final release of each major.minor >= minimum, oldest minor first."""
    best: dict[tuple[int, int], tuple[int, str]] = {}
    for text in versions:
        match = _VERSION.match(text.strip())
        if match is None:
            continue  # pre-releases, post-releases
        major, minor, patch = (int(part) for part in match.groups())
        if (major, minor) >= minimum and major == minimum[0] \
                and patch >= best.get((major, minor), (-1, ""))[0]:
            best[(major, minor)] = (patch, text.strip())
    return [best[key][1] for key in sorted(best)]


def anyio_releases() -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "anyio",
                           "--disable-pip-version-check"], capture_output=True, text=True,
                          timeout=120)
    match = re.search(r"Available versions:\s*(.+)", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise SuiteError("cannot list anyio releases (pip index versions anyio failed)")
    return newest_per_minor(match.group(1).split(","))


def find_pythons() -> list[str]:
    """One interpreter per supported minor: on PATH, else the newest pyenv build."""
    found = []
    for minor in PYTHON_MINORS:
        exe = shutil.which(f"python3.{minor}")
        if exe is None or "/shims/" in exe:  # a pyenv shim may point nowhere: use a build
            builds = sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python"),
                            key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])])
            exe = str(builds[-1]) if builds else None
        if exe is not None:
            found.append(exe)
    return found


def _cell(counts: dict[str, object] | None, error: str) -> list[str]:
    if counts is None:
        return ["-", "-", "-", "-", "-", "-", error or "no result"]
    columns = counts["columns"]
    comparisons = counts["comparisons"]
    assert isinstance(columns, dict) and isinstance(comparisons, dict)

    def pfs(name: str) -> str:
        c = columns.get(name)
        return f"{c['passed']}/{c['failed']}/{c['skipped']}" if c else "-"

    pike = comparisons.get("pike", {})
    verdict = "PASS" if counts.get("gate") else "FAIL"
    return [pfs("pike"), pfs("asyncio"), pfs("trio"), str(pike.get("regressions", "-")),
            str(pike.get("shared", "-")), str(pike.get("flaky", "-")), verdict]


def run_matrix(versions: list[str], pythons: list[str], argv: list[str]) -> int:
    """Run every cell; print and write the table; 0 when every cell's gate passed."""
    out = CACHE / "matrix"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    ok = True
    for version in versions:
        for python in pythons:
            tag = Path(python).name if "pyenv" not in python else Path(python).parts[-3]
            stem = out / f"anyio-{version}-{tag}"
            summary = stem.with_suffix(".json")
            summary.unlink(missing_ok=True)
            print(f"conformance: matrix cell anyio {version} on {python}", flush=True)
            cmd = [sys.executable, "-m", "conformance", "--gate", "--anyio", version,
                   "--python", python, "--report", str(stem.with_suffix(".md")),
                   "--summary-json", str(summary), *argv]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            (stem.with_suffix(".log")).write_text(proc.stdout + proc.stderr)
            counts = json.loads(summary.read_text()) if summary.exists() else None
            lines = [line for line in proc.stderr.splitlines() if line.startswith("conformance:")]
            error = lines[-1].removeprefix("conformance: ")[:80] if lines else ""
            ok = ok and proc.returncode == 0
            rows.append([version, tag, *_cell(counts, error)])
    header = ["anyio", "python", "pike p/f/s", "asyncio p/f/s", "trio p/f/s", "regressions",
              "shared", "flaky", "gate"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(table) + "\n"
    (out / "matrix.md").write_text(text)
    print(text + f"conformance: matrix written to {out / 'matrix.md'} (cell logs beside it)")
    return 0 if ok else 1
