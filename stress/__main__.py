"""``python -m stress NAME [--long] [ARGS]``: run one suite and print its figures.

NAME is one of the suites below. Without ``--long`` a suite runs its CI mode (what
``tests/test_stress_*.py`` runs); ``--long`` runs its long mode. ``fuzz`` takes its own
options (``python -m stress fuzz --examples N``) and is always its long mode.
"""

from __future__ import annotations

import importlib
import sys

SUITES = ("cancel_injection", "faults", "soak", "threads_signals", "fuzz")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SUITES:
        print(__doc__.strip(), file=sys.stderr)
        print(f"suites: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name == "fuzz":
        module = importlib.import_module("stress.fuzz.__main__")
        rest = [arg for arg in rest if arg != "--long"]
    else:
        module = importlib.import_module(f"stress.{name}")
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
