"""Turning "call this async function" into a coroutine, with clear errors."""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

_CoroutineType = types.CoroutineType


def reject_coroutine_object(async_fn: object) -> None:
    """Fail clearly (and close it, so no "never awaited" warning) for ``f()``."""
    if isinstance(async_fn, _CoroutineType):
        async_fn.close()
        raise TypeError(
            "pike expected an async function, but got a coroutine object: "
            "pass the function and its arguments separately, e.g. "
            "start_soon(fn, arg) rather than start_soon(fn(arg))"
        )


def coroutine_or_error(
    async_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
) -> Coroutine[Any, Any, Any]:
    """Call ``async_fn(*args)`` and insist on getting a coroutine back."""
    reject_coroutine_object(async_fn)
    if not callable(async_fn):
        raise TypeError(f"expected an async function, got {async_fn!r}")
    coro = async_fn(*args)
    if type(coro) is _CoroutineType:
        return coro
    return check_coroutine(async_fn, coro)


async def _await_it(awaitable: Any) -> Any:
    return await awaitable


def check_coroutine(async_fn: object, coro: object) -> Coroutine[Any, Any, Any]:
    """The slow path: a coroutine-like object from some other machinery, or an error."""
    if isinstance(coro, Coroutine) and not inspect.isgenerator(coro):
        return coro
    if inspect.isgenerator(coro) and coro.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE:
        # A @types.coroutine generator (pike's own traps are): give it a frame.
        return _await_it(coro)
    if inspect.isawaitable(coro):
        if hasattr(coro, "cancel"):  # an asyncio Future/Task
            coro.cancel()
        raise TypeError(
            f"{async_fn!r} returned {coro!r}, which is awaitable but not a coroutine; "
            "pike runs coroutines from async functions only"
        )
    if inspect.isgenerator(coro):
        coro.close()
    raise TypeError(
        f"pike expected an async function, but {async_fn!r} returned {coro!r}: "
        "is it missing 'async def'?"
    )
