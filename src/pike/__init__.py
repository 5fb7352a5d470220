"""pike: a structured-concurrency async I/O kernel with a trio-shaped API.

``pike.run(main)`` runs ``main`` on an edge-triggered notifier (epoll on
Linux); tasks live in nurseries, cancellation flows through cancel scopes.
"""

from . import abc, from_thread, lowlevel, socket, testing, to_thread
from ._channel import (
    MemoryChannelStatistics,
    MemoryReceiveChannel,
    MemorySendChannel,
    open_memory_channel,
)
from ._cross_thread_event import CrossThreadEvent
from ._highlevel_open import open_tcp_stream, open_unix_socket
from ._highlevel_serve import open_tcp_listeners, serve_listeners, serve_tcp
from ._kernel._cancel import (
    CancelScope,
    current_effective_deadline,
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
)
from ._kernel._current import current_time
from ._kernel._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    ClosedResourceError,
    EndOfChannel,
    PikeInternalError,
    RunFinishedError,
    TooSlowError,
    WouldBlock,
)
from ._kernel._nursery import TASK_STATUS_IGNORED, Nursery, TaskStatus, open_nursery
from ._kernel._run import run
from ._kernel._sleep import sleep, sleep_forever, sleep_until
from ._signals import open_signal_receiver
from ._streams import SocketListener, SocketStream
from ._subprocess import run_process
from ._sync import (
    CapacityLimiter,
    CapacityLimiterStatistics,
    Condition,
    Event,
    EventStatistics,
    Lock,
    Semaphore,
    StrictFIFOLock,
)

__version__ = "0.1.0"

__all__ = [
    "abc",
    "MemoryChannelStatistics",
    "MemoryReceiveChannel",
    "MemorySendChannel",
    "open_memory_channel",
    "run_process",
    "open_signal_receiver",
    "CrossThreadEvent",
    "socket",
    "serve_tcp",
    "serve_listeners",
    "open_unix_socket",
    "open_tcp_stream",
    "open_tcp_listeners",
    "SocketStream",
    "SocketListener",
    "TASK_STATUS_IGNORED",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "EventStatistics",
    "ClosedResourceError",
    "Condition",
    "EndOfChannel",
    "Event",
    "Lock",
    "Nursery",
    "PikeInternalError",
    "RunFinishedError",
    "Semaphore",
    "StrictFIFOLock",
    "TaskStatus",
    "TooSlowError",
    "WouldBlock",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "lowlevel",
    "move_on_after",
    "move_on_at",
    "open_nursery",
    "run",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "testing",
    "to_thread",
]
