"""fd readiness waits with anyio's exception types.

pike raises its own ``ClosedResourceError``/``BusyResourceError``; anyio's
callers catch anyio's. Each wait is pike's wait inside one translating
``try`` (which costs nothing until an error happens), made by one factory so
the two directions cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import anyio

import pike
from pike.lowlevel import wait_readable as _wait_readable
from pike.lowlevel import wait_writable as _wait_writable


class _Wait(Protocol):
    # A protocol, not a Callable: anyio's AsyncBackend names the parameter ``obj``.
    def __call__(self, obj: Any) -> Coroutine[Any, Any, None]: ...


def _with_anyio_errors(wait: Callable[[Any], Awaitable[None]], action: str) -> _Wait:
    """``wait`` raising anyio's errors; ``action`` names the busy direction for anyio."""

    async def anyio_wait(obj: Any) -> None:
        try:
            await wait(obj)
        except pike.ClosedResourceError as exc:
            # The traceback stays the one of the wait that saw the close.
            raise anyio.ClosedResourceError().with_traceback(exc.__traceback__) from None
        except pike.BusyResourceError:
            raise anyio.BusyResourceError(action) from None

    anyio_wait.__name__ = anyio_wait.__qualname__ = wait.__name__
    return anyio_wait


wait_readable = _with_anyio_errors(_wait_readable, "reading from")
wait_writable = _with_anyio_errors(_wait_writable, "writing to")
