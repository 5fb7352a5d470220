"""Long mode: ``python -m stress.fuzz --examples 20000 [--seed N] [--with KIND]``.

Runs that many generated programs on pike and trio and prints the figures. On a
difference, hypothesis shrinks the program, ``minimise`` shrinks it further on its
own structure, and the minimal program is printed with pike's and trio's traces
(exit status 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from .compare import Stats, check
from .generate import DEFAULT_FEATURES, OPTIONAL_FEATURES, Features
from .session import fuzz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=20000, help="programs to generate")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        choices=OPTIONAL_FEATURES,
        help="also generate this kind (all are on by default now; kept for old command lines)",
    )
    args = parser.parse_args(argv)
    features: Features = replace(DEFAULT_FEATURES, **{name: True for name in args.extra})

    stats = Stats()
    started = time.monotonic()
    failure = fuzz(args.examples, stats, features=features, seed=args.seed)
    elapsed = time.monotonic() - started
    if failure is not None:
        print(check(failure).report(), flush=True)
    print(f"stress.fuzz: {stats.summary()}; {elapsed:.1f}s", flush=True)
    if failure is not None:
        print("stress.fuzz: FAILED: the minimal program is above (failures counts shrink runs)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
