"""fd readiness waits with anyio's exception types.

pike raises its own ``ClosedResourceError``/``BusyResourceError``; anyio's
callers catch anyio's. The ``try`` costs nothing until an error happens.
"""

from __future__ import annotations

from typing import Any

import anyio

import pike
from pike.lowlevel import wait_readable as _wait_readable
from pike.lowlevel import wait_writable as _wait_writable


async def wait_readable(obj: Any) -> None:
    try:
        await _wait_readable(obj)
    except pike.ClosedResourceError as exc:
        raise anyio.ClosedResourceError().with_traceback(exc.__traceback__) from None
    except pike.BusyResourceError:
        raise anyio.BusyResourceError("reading from") from None


async def wait_writable(obj: Any) -> None:
    try:
        await _wait_writable(obj)
    except pike.ClosedResourceError as exc:
        raise anyio.ClosedResourceError().with_traceback(exc.__traceback__) from None
    except pike.BusyResourceError:
        raise anyio.BusyResourceError("writing to") from None
