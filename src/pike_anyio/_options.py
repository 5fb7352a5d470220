"""anyio's ``backend_options`` for "pike", checked once per run.

``clock`` (e.g. ``pike.testing.MockClock``) and ``notifier`` ("epoll", "poll" or
an instance) go straight to ``pike.run``. ``debug`` is accepted so that code
written for several backends can pass it; pike's run takes it once the kernel
offers a debug mode (kernel request "debug option"); until then it is accepted
and has no effect.
"""

from __future__ import annotations

import inspect
from typing import Any

import pike

_KERNEL_OPTIONS = frozenset(inspect.signature(pike.run).parameters) - {"async_fn", "args"}
_KNOWN = frozenset({"clock", "notifier", "debug"})


def run_options(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``pike.run``/``SteppedRun`` that ``options`` asks for."""
    unknown = set(options) - _KNOWN - _KERNEL_OPTIONS
    if unknown:
        raise TypeError(
            f"unknown backend option(s) for 'pike': {', '.join(sorted(unknown))} "
            f"(supported: {', '.join(sorted(_KNOWN | _KERNEL_OPTIONS))})"
        )
    kwargs = dict(options)
    if "debug" in kwargs and "debug" not in _KERNEL_OPTIONS:
        kwargs.pop("debug")
    return kwargs
