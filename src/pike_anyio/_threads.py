"""Worker threads and calls back into the run, as anyio's backend API wants them.

pike runs the thread and carries results back; the adapter only adds anyio's
per-thread bookkeeping (so ``anyio.from_thread`` knows which run a worker
belongs to), anyio's ``RunFinishedError``, and anyio-typed limiters.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any, TypeVar

import anyio
import sniffio
from anyio._core._eventloop import threadlocals
from anyio.lowlevel import EventLoopToken

import pike
from pike.lowlevel import RunToken, RunVar, current_token

from ._sync import CapacityLimiter

T = TypeVar("T")

_default_limiter: RunVar[CapacityLimiter] = RunVar("pike_anyio default thread limiter")
_sniffio_cvar = sniffio.current_async_library_cvar


async def run_sync_in_worker_thread(
    backend: type[Any],
    func: Callable[..., T],
    args: tuple[Any, ...],
    abandon_on_cancel: bool = False,
    limiter: Any = None,
) -> T:
    token = EventLoopToken(backend, current_token())

    def in_worker() -> T:
        # What anyio's claim_worker_thread() does, without a generator per call.
        threadlocals.current_token = token
        # WORKAROUND (kernel request A9): pike's to_thread copies the caller's
        # context, sniffio's "I am in pike" included; a worker thread is not.
        _sniffio_cvar.set(None)
        try:
            return func(*args)
        finally:
            del threadlocals.current_token

    if limiter is None:
        limiter = current_default_thread_limiter()
    return await pike.to_thread.run_sync(
        in_worker, abandon_on_cancel=abandon_on_cancel, limiter=limiter
    )


def current_default_thread_limiter() -> CapacityLimiter:
    """The limiter anyio's worker threads share by default (40 tokens, per run).

    WORKAROUND (kernel request A5/A11): this should be pike's own default
    limiter, so that pike-native and anyio code share one pool; pike's limiter
    class has no ``__weakref__`` slot while anyio's base class has one, so its
    instance cannot be re-classed in place. Until then anyio code gets a limiter
    of its own.
    """
    try:
        return _default_limiter.get()
    except LookupError:
        limiter = CapacityLimiter(pike.to_thread.current_default_thread_limiter().total_tokens)
        _default_limiter.set(limiter)
        return limiter


def run_async_from_thread(
    func: Callable[..., Coroutine[Any, Any, T]], args: tuple[Any, ...], token: object
) -> T:
    try:
        return pike.from_thread.run(func, *args, token=token)  # type: ignore[arg-type]
    except pike.RunFinishedError:
        raise anyio.RunFinishedError from None


def run_sync_from_thread(func: Callable[..., T], args: tuple[Any, ...], token: object) -> T:
    try:
        # The call sees the calling thread's context variables, as on trio and asyncio.
        return copy_context_call(func, args, token)
    except pike.RunFinishedError:
        raise anyio.RunFinishedError from None


def copy_context_call(func: Callable[..., T], args: tuple[Any, ...], token: object) -> T:
    assert token is None or isinstance(token, RunToken)
    result: T = pike.from_thread.run_sync(copy_context().run, func, *args, token=token)
    return result


def run_sync_soon(func: Callable[..., object], args: tuple[Any, ...], token: object) -> None:
    assert isinstance(token, RunToken)
    try:
        token.run_sync_soon(copy_context().run, func, *args)
    except pike.RunFinishedError:
        raise anyio.RunFinishedError from None
