"""The floor: the cheapest scheduler anyio's ``checkpoint()`` can dispatch to.

``anyio.lowlevel.checkpoint()`` asks sniffio which library runs, looks the
backend class up, and awaits its ``checkpoint``. The fastest conceivable
backend answers that by suspending the coroutine once and being resumed at
once: a bare ``coro.send(None)`` loop with no ready queue, no cancellation, no
I/O. No real backend can beat that in pure Python; the checkpoint workload on
it shows how far a backend is from the limit (the report prints pike's share).

The "floor" backend implements only what that workload touches (``run`` and
``checkpoint``); it is registered under ``anyio._backends._floor`` on demand
and is never offered for other workloads.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

NAME = "floor"


@types.coroutine
def _suspend() -> Generator[None, None, None]:
    yield


class FloorBackend:
    """A trampoline: resume the one coroutine until it returns."""

    @classmethod
    def run(cls, func: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...],
            kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        import sniffio

        coro = func(*args)
        token = sniffio.current_async_library_cvar.set(NAME)
        try:
            send = coro.send
            while True:
                send(None)
        except StopIteration as stop:
            return stop.value
        finally:
            sniffio.current_async_library_cvar.reset(token)

    @classmethod
    async def checkpoint(cls) -> None:
        await _suspend()


def register() -> None:
    """Make ``anyio.run(..., backend="floor")`` find :class:`FloorBackend`."""
    module = types.ModuleType(f"anyio._backends._{NAME}")
    setattr(module, "backend_class", FloorBackend)  # noqa: B010  (a module built at run time)
    sys.modules[module.__name__] = module
