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

import pike
from pike.lowlevel import RunToken, current_token

from ._compat import (
    claim_worker,
    claimed_native_token,
    release_worker,
    worker_token,
)
from ._sync import CapacityLimiter

T = TypeVar("T")


async def run_sync_in_worker_thread(
    backend: type[Any],
    func: Callable[..., T],
    args: tuple[Any, ...],
    abandon_on_cancel: bool = False,
    limiter: anyio.CapacityLimiter | None = None,
) -> T:
    token = worker_token(backend, current_token())
    if limiter is None:
        limiter = current_default_thread_limiter()

    def in_worker() -> T:
        # What anyio's claim_worker_thread() does, without a generator per call.
        claim_worker(backend, token)
        try:
            return func(*args)
        finally:
            release_worker()

    return await pike.to_thread.run_sync(
        in_worker, abandon_on_cancel=abandon_on_cancel, limiter=limiter
    )


def current_default_thread_limiter() -> CapacityLimiter:
    """pike's default thread limiter, which in an anyio run is an anyio CapacityLimiter.

    anyio code must see the very limiter pike's ``to_thread`` uses by default, so
    that changing its ``total_tokens`` changes the real pool size. The first call
    in a run installs one of ours (sized like pike's) as pike's default.
    """
    limiter = pike.to_thread.current_default_thread_limiter()
    if isinstance(limiter, CapacityLimiter):
        return limiter
    ours = CapacityLimiter(limiter.total_tokens)
    pike.to_thread.set_default_thread_limiter(ours)
    return ours


def _own_worker_token(token: object) -> RunToken | None:
    """None if this thread is one of ``token``'s run's workers, else ``token``.

    pike runs ``from_thread.run`` under the waiting task's cancel scopes only
    when it finds the run through the worker thread itself; anyio always passes
    the token, so hand it over only when the call comes from somewhere else.
    """
    if token is None or claimed_native_token() is token:
        return None
    if not isinstance(token, RunToken):
        raise TypeError(f"expected a pike run token, got {token!r}")
    return token


def run_async_from_thread(
    func: Callable[..., Coroutine[Any, Any, T]], args: tuple[Any, ...], token: object
) -> T:
    try:
        return pike.from_thread.run(func, *args, token=_own_worker_token(token))
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
