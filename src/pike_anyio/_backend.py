"""``PikeBackend``: anyio's ``AsyncBackend`` mapped onto pike's public API.

Where anyio's interface and pike's agree, the method *is* pike's function (a
``staticmethod`` class attribute) or class (``create_event = Event``): anyio's
``get_async_backend().sleep(1)`` calls ``pike.sleep`` with no adapter frame in
between. Methods are written out only where anyio's semantics differ: anyio's
exception types, anyio's worker-thread bookkeeping, anyio's stream objects.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import TaskInfo
from anyio.abc import AsyncBackend
from anyio.abc import TestRunner as _AbstractTestRunner

import pike
import pike.lowlevel
import pike.testing

from . import _io, _network, _process, _signals, _threads
from ._cancel import CancelScope
from ._compat import WANTS_BLOCKING_PORTAL, fill_missing_methods
from ._options import run_options
from ._sync import CapacityLimiter, Event, Lock, Semaphore
from ._taskgroup import TaskGroup
from ._taskinfo import PikeTaskInfo, walk_task_tree
from ._testing import TestRunner

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")


async def _await_result(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await func(*args)


def _sleep(delay: float) -> Awaitable[None]:
    """What anyio's ``sleep(delay)`` awaits: for 0, pike's checkpoint trap itself.

    A plain function returning the awaitable, not a coroutine: anyio's own
    ``sleep`` awaits the result at once, so the trap sits right under anyio's
    frame and every suspension and resumption of ``sleep(0)`` (a common way
    to yield) crosses one frame fewer. Other delays, and bad ones, go to
    ``pike.sleep``, which validates them when awaited, as before.
    """
    if delay == 0 and (type(delay) is int or type(delay) is float):
        return pike.lowlevel.checkpoint()
    return pike.sleep(delay)


class PikeBackend(AsyncBackend):
    """The "pike" backend. Every attribute is looked up on the class, never copied."""

    @classmethod
    def run(
        cls,
        func: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
    ) -> T:
        if kwargs:
            raise TypeError("pike's run() passes positional arguments only")
        if not inspect.iscoroutinefunction(func):
            # anyio accepts any callable returning an awaitable; pike wants coroutines.
            args = (func, *args)
            func = _await_result
        result: T = pike.run(func, *args, **run_options(options))
        return result

    # -- direct mappings: these are pike's own functions and classes ------------------

    current_token = staticmethod(pike.lowlevel.current_token)
    current_time = staticmethod(pike.current_time)
    checkpoint = staticmethod(pike.lowlevel.checkpoint)
    checkpoint_if_cancelled = staticmethod(pike.lowlevel.checkpoint_if_cancelled)
    cancel_shielded_checkpoint = staticmethod(pike.lowlevel.cancel_shielded_checkpoint)
    sleep = staticmethod(_sleep)  # type: ignore[assignment]
    current_effective_deadline = staticmethod(pike.current_effective_deadline)
    check_cancelled = staticmethod(pike.from_thread.check_cancelled)
    wait_all_tasks_blocked = staticmethod(pike.testing.wait_all_tasks_blocked)

    create_cancel_scope = CancelScope
    create_task_group = TaskGroup
    create_event = Event
    create_lock = Lock
    create_semaphore = Semaphore
    create_capacity_limiter = CapacityLimiter

    @classmethod
    def cancelled_exception_class(cls) -> type[BaseException]:
        return pike.Cancelled

    # -- threads -------------------------------------------------------------------

    # The backend class is the function's first argument: no adapter frame
    # between anyio's to_thread.run_sync and pike's, at each of its suspensions.
    run_sync_in_worker_thread = classmethod(_threads.run_sync_in_worker_thread)

    run_async_from_thread = staticmethod(_threads.run_async_from_thread)
    run_sync_from_thread = staticmethod(_threads.run_sync_from_thread)
    run_sync_soon = staticmethod(_threads.run_sync_soon)
    current_default_thread_limiter = staticmethod(_threads.current_default_thread_limiter)

    # -- I/O -----------------------------------------------------------------------

    @classmethod
    def notify_closing(cls, obj: FileDescriptorLike) -> None:
        # Written out: anyio names the parameter ``obj``, pike ``fd``.
        pike.lowlevel.notify_closing(obj)

    wait_readable = staticmethod(_io.wait_readable)
    wait_writable = staticmethod(_io.wait_writable)

    open_process = staticmethod(_process.open_process)
    setup_process_pool_exit_at_shutdown = staticmethod(
        _process.setup_process_pool_exit_at_shutdown
    )
    open_signal_receiver = staticmethod(_signals.open_signal_receiver)

    getaddrinfo = staticmethod(_network.getaddrinfo)
    getnameinfo = staticmethod(_network.getnameinfo)
    connect_tcp = staticmethod(_network.connect_tcp)
    connect_unix = staticmethod(_network.connect_unix)
    create_tcp_listener = staticmethod(_network.create_tcp_listener)
    create_unix_listener = staticmethod(_network.create_unix_listener)
    create_udp_socket = staticmethod(_network.create_udp_socket)
    # anyio overloads it on remote_path (None or not); one function serves both.
    create_unix_datagram_socket = staticmethod(  # type: ignore[assignment]
        _network.create_unix_datagram_socket
    )
    wrap_listener_socket = staticmethod(_network.wrap_listener_socket)
    wrap_stream_socket = staticmethod(_network.wrap_stream_socket)
    wrap_unix_stream_socket = staticmethod(_network.wrap_unix_stream_socket)
    wrap_udp_socket = staticmethod(_network.wrap_udp_socket)
    wrap_connected_udp_socket = staticmethod(_network.wrap_connected_udp_socket)
    wrap_unix_datagram_socket = staticmethod(_network.wrap_unix_datagram_socket)
    wrap_connected_unix_datagram_socket = staticmethod(
        _network.wrap_connected_unix_datagram_socket
    )

    # -- introspection and testing -------------------------------------------------

    @classmethod
    def get_current_task(cls) -> TaskInfo:
        return PikeTaskInfo(pike.lowlevel.current_task())

    @classmethod
    def get_running_tasks(cls) -> Sequence[TaskInfo]:
        root = pike.lowlevel.current_root_task()
        if root is None:
            raise RuntimeError("get_running_tasks() needs a running pike event loop")
        return [PikeTaskInfo(task) for task in walk_task_tree(root)]

    @classmethod
    def create_test_runner(cls, options: dict[str, Any]) -> _AbstractTestRunner:
        return TestRunner(**options)

    if WANTS_BLOCKING_PORTAL:

        @classmethod
        def create_blocking_portal(cls) -> Any:  # anyio 4.9-4.12 only
            from ._portal import BlockingPortal

            return BlockingPortal()


#: Abstract methods of a newer anyio that this adapter lacks (empty when tested).
STUBBED_METHODS = fill_missing_methods(PikeBackend)
