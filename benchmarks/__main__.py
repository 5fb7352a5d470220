"""``python -m benchmarks``: run the suite (see :mod:`benchmarks.orchestrator`)."""

from __future__ import annotations

import sys

from benchmarks.orchestrator import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
