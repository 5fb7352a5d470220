"""anyio's ``backend_options`` for "pike", checked once per run.

``clock`` (e.g. ``pike.testing.MockClock``), ``notifier`` ("epoll", "poll" or
an instance) and ``debug`` go straight to ``pike.run``; anything else is an
error rather than silently ignored.
"""

from __future__ import annotations

import inspect
from typing import Any

import pike

_KNOWN = frozenset(inspect.signature(pike.run).parameters) - {"async_fn", "args"}


def run_options(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``pike.run``/``SteppedRun`` that ``options`` asks for."""
    unknown = set(options) - _KNOWN
    if unknown:
        raise TypeError(
            f"unknown backend option(s) for 'pike': {', '.join(sorted(unknown))} "
            f"(supported: {', '.join(sorted(_KNOWN))})"
        )
    return dict(options)
