"""Fetch the test suite of the installed anyio version into the local cache.

anyio's backend interface is private and changes between releases, so the tests
must match the installed anyio exactly; its sdist ships `tests/`. We download it
at run time (never vendoring anyio's code) and keep it under `.cache/` so repeated
runs are offline and fast.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
_COMPLETE = ".conformance-complete"


class SuiteError(RuntimeError):
    """The suite could not be fetched; the message says why, in one line."""


def installed_anyio_version() -> str:
    """The anyio version the tests must come from (the one pike_anyio runs against)."""
    return version("anyio")


def fetch_suite(anyio_version: str, cache: Path = CACHE) -> Path:
    """Return the root of the extracted sdist (it holds `tests/` and `pyproject.toml`).

    The extraction lands in a temporary directory first and is renamed into place,
    so an interrupted fetch never leaves a half-extracted tree that looks complete.
    """
    root = cache / f"anyio-{anyio_version}"
    if (root / _COMPLETE).exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="fetch-") as tmp:
        archive = _download_sdist(anyio_version, Path(tmp))
        extract_tar(archive, Path(tmp))
        extracted = Path(tmp) / f"anyio-{anyio_version}"
        if not (extracted / "tests" / "conftest.py").is_file():
            raise SuiteError(f"anyio {anyio_version} sdist has no tests/conftest.py")
        (extracted / _COMPLETE).touch()
        if root.exists():
            shutil.rmtree(root)
        extracted.rename(root)
    return root


def extract_tar(archive: Path, dest: Path) -> None:
    """Unpack a downloaded sdist into ``dest``: regular files and directories only, all inside.

    tarfile's ``filter="data"`` enforces that from Python 3.11.4 on; earlier 3.11
    releases (Debian 12's python3.11 is 3.11.2) lack the argument, so there the same
    rule is checked member by member before extracting.
    """
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        root = dest.resolve()
        for member in tar.getmembers():
            inside = (root / member.name).resolve().is_relative_to(root)
            if not inside or not (member.isfile() or member.isdir()):
                raise SuiteError(f"{archive.name}: refusing to extract {member.name!r}")
        tar.extractall(dest)


def _download_sdist(anyio_version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), f"anyio=={anyio_version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    archives = sorted(dest.glob("anyio-*.tar.gz"))
    if proc.returncode != 0 or not archives:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise SuiteError(f"pip download of anyio=={anyio_version} sdist failed: {reason}")
    return archives[0]
