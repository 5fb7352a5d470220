"""Opt-in: let httpcore (and so httpx) run on pike.

httpcore picks its locks and network backend by the sniffio name of the
running library and refuses anything but "asyncio" and "trio". Its "asyncio"
implementation is written entirely against anyio's public API, so it works on
any anyio backend; only the name check is in the way. ``enable()`` teaches that
check that "pike" should take the anyio path. It changes nothing else and is
idempotent. Call it once, before making requests::

    import pike_anyio.httpcore_support
    pike_anyio.httpcore_support.enable()
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import sniffio

_MODULES = ("httpcore._synchronization", "httpcore._backends.auto")


def _pike_as_anyio(real: Callable[[], str]) -> Callable[[], str]:
    def current_async_library() -> str:
        if sniffio.current_async_library() == "pike":
            return "asyncio"  # httpcore's name for its anyio-based implementation
        return real()

    current_async_library.__pike_wrapped__ = real  # type: ignore[attr-defined]
    return current_async_library


def enable() -> None:
    """Make httpcore treat pike like any other anyio backend. Idempotent."""
    for name in _MODULES:
        module = importlib.import_module(name)
        real = getattr(module, "current_async_library")  # noqa: B009
        if not hasattr(real, "__pike_wrapped__"):
            setattr(module, "current_async_library", _pike_as_anyio(real))  # noqa: B010


def disable() -> None:
    """Undo ``enable()``."""
    for name in _MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "current_async_library")  # noqa: B009
        real = getattr(current, "__pike_wrapped__", None)
        if real is not None:
            setattr(module, "current_async_library", real)  # noqa: B010
