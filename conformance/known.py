"""Load the checked-in list of known pike failures (`known_failures.toml`).

Each table is a pike variant ("pike", "pike+poll"); each entry maps a normalised
test id (no backend part) to the real cause of its failure. A cause is required:
an entry nobody can explain is a bug report, not a known failure.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

KNOWN_FAILURES = Path(__file__).resolve().parent / "known_failures.toml"

Known = dict[str, dict[str, str]]  # variant -> test id -> cause


class KnownFailuresError(ValueError):
    """The file is malformed; the message names the entry."""


def load_known(path: Path = KNOWN_FAILURES) -> Known:
    """Parse and validate the known-failures file; a missing file means none."""
    if not path.exists():
        return {}
    with path.open("rb") as file:
        data = tomllib.load(file)
    known: Known = {}
    for variant, entries in data.items():
        if not isinstance(entries, dict):
            raise KnownFailuresError(f"{path.name}: [{variant}] must be a table")
        for test, cause in entries.items():
            if not isinstance(cause, str) or not cause.strip():
                raise KnownFailuresError(f"{path.name}: [{variant}] {test!r} needs a cause")
            if "[pike" in test or "-pike" in test:
                raise KnownFailuresError(f"{path.name}: {test!r} must not name the backend")
        known[variant] = dict(entries)
    return known
