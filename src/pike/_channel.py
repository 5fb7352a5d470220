"""Memory channels: typed queues between tasks of one run, with trio's semantics.

Both ends of a channel share one ``_ChannelCore``: a buffer plus two FIFO
queues of parked tasks. A parked sender is queued together with its value, so
a receiver can take the value and release the sender in one step (which is
what makes a zero-size buffer a rendezvous). A handle (one send or receive
end, including clones) additionally remembers which of its own tasks are
parked, so that closing that handle can wake exactly those with
``ClosedResourceError``.

Values never get lost to cancellation: a parked task is either still queued
(then the abort removes it and nothing was exchanged) or already rescheduled
with its result (then the kernel no longer asks it to abort).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from types import TracebackType
from typing import Generic, TypeVar

from ._kernel import _state
from ._kernel._exceptions import (
    BrokenResourceError,
    ClosedResourceError,
    EndOfChannel,
    WouldBlock,
)
from ._kernel._task import Task
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint,
    wait_task_rescheduled,
)

T = TypeVar("T")


class MemoryChannelStatistics:
    """A snapshot of one channel's state (shared by all its handles)."""

    __slots__ = (
        "current_buffer_used",
        "max_buffer_size",
        "open_receive_channels",
        "open_send_channels",
        "tasks_waiting_receive",
        "tasks_waiting_send",
    )

    def __init__(
        self,
        current_buffer_used: int,
        max_buffer_size: float,
        open_send_channels: int,
        open_receive_channels: int,
        tasks_waiting_send: int,
        tasks_waiting_receive: int,
    ) -> None:
        self.current_buffer_used = current_buffer_used
        self.max_buffer_size = max_buffer_size
        self.open_send_channels = open_send_channels
        self.open_receive_channels = open_receive_channels
        self.tasks_waiting_send = tasks_waiting_send
        self.tasks_waiting_receive = tasks_waiting_receive

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"MemoryChannelStatistics({fields})"


class _ChannelCore(Generic[T]):
    __slots__ = (
        "buffer",
        "max_buffer_size",
        "open_receive",
        "open_send",
        "receivers",
        "senders",
    )

    def __init__(self, max_buffer_size: float) -> None:
        self.max_buffer_size = max_buffer_size
        self.buffer: deque[T] = deque()
        # Parked senders, oldest first: task -> (its handle, the value it offers).
        self.senders: OrderedDict[Task, tuple[MemorySendChannel[T], T]] = OrderedDict()
        # Parked receivers, oldest first: task -> its handle.
        self.receivers: OrderedDict[Task, MemoryReceiveChannel[T]] = OrderedDict()
        self.open_send = 0
        self.open_receive = 0

    def statistics(self) -> MemoryChannelStatistics:
        return MemoryChannelStatistics(
            len(self.buffer),
            self.max_buffer_size,
            self.open_send,
            self.open_receive,
            len(self.senders),
            len(self.receivers),
        )


def _check_buffer_size(max_buffer_size: object) -> float:
    if isinstance(max_buffer_size, bool) or not (
        isinstance(max_buffer_size, int) or max_buffer_size == math.inf
    ):
        raise TypeError(
            f"max_buffer_size must be an int or math.inf, not {max_buffer_size!r}"
        )
    if max_buffer_size < 0:
        raise ValueError(f"max_buffer_size must be >= 0, not {max_buffer_size!r}")
    return max_buffer_size


class MemorySendChannel(Generic[T]):
    """The sending end of a memory channel; ``clone()`` makes more of them."""

    __slots__ = ("__weakref__", "_closed", "_core", "_waiting")

    def __init__(self, core: _ChannelCore[T]) -> None:
        self._core = core
        self._closed = False
        # This handle's parked senders (to wake on close()).
        self._waiting: set[Task] = set()
        core.open_send += 1

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<pike.MemorySendChannel {state} at {id(self):#x}>"

    def statistics(self) -> MemoryChannelStatistics:
        return self._core.statistics()

    def send_nowait(self, value: T) -> None:
        """Send without blocking; raise ``WouldBlock`` if the buffer is full."""
        if self._closed:
            raise ClosedResourceError("this send channel is closed")
        core = self._core
        if not core.open_receive:
            raise BrokenResourceError("every receive channel is closed")
        receivers = core.receivers
        if receivers:
            task, handle = receivers.popitem(last=False)
            handle._waiting.discard(task)
            _state.runner().reschedule(task, value)
        elif len(core.buffer) < core.max_buffer_size:
            core.buffer.append(value)
        else:
            raise WouldBlock

    async def send(self, value: T) -> None:
        """Send ``value``, waiting for buffer space (or a receiver, if unbuffered)."""
        task = _state.local.task
        if task is None:
            raise RuntimeError("must be called from a pike task")
        if task._cancel_scope._effective:
            await checkpoint()  # raises Cancelled
        core = self._core
        # Decide here whether send_nowait would succeed (or fail for a closed
        # channel) rather than catching its WouldBlock: raising and catching an
        # exception costs more than the rest of a rendezvous.
        if (
            core.receivers
            or len(core.buffer) < core.max_buffer_size
            or self._closed
            or not core.open_receive
        ):
            self.send_nowait(value)
            await cancel_shielded_checkpoint()
            return
        senders = core.senders
        waiting = self._waiting
        senders[task] = (self, value)
        waiting.add(task)

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            del senders[task]
            waiting.discard(task)
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def clone(self) -> MemorySendChannel[T]:
        """Another send handle on the same channel, closed independently."""
        if self._closed:
            raise ClosedResourceError("cannot clone a closed send channel")
        return MemorySendChannel(self._core)

    def close(self) -> None:
        """Close this handle; receivers see ``EndOfChannel`` once every sender is closed.

        Idempotent. This handle's parked senders get ``ClosedResourceError``.
        """
        if self._closed:
            return
        self._closed = True
        core = self._core
        if self._waiting:
            runner = _state.runner()
            for task in self._waiting:
                del core.senders[task]
                runner.reschedule_error(task, ClosedResourceError("send channel closed"))
            self._waiting.clear()
        core.open_send -= 1
        if not core.open_send and core.receivers:
            runner = _state.runner()
            receivers = list(core.receivers.items())
            core.receivers.clear()
            for task, handle in receivers:
                handle._waiting.discard(task)
                runner.reschedule_error(task, EndOfChannel())

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    def __enter__(self) -> MemorySendChannel[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> MemorySendChannel[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class MemoryReceiveChannel(Generic[T]):
    """The receiving end of a memory channel; iterate it with ``async for``."""

    __slots__ = ("__weakref__", "_closed", "_core", "_waiting")

    def __init__(self, core: _ChannelCore[T]) -> None:
        self._core = core
        self._closed = False
        self._waiting: set[Task] = set()
        core.open_receive += 1

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<pike.MemoryReceiveChannel {state} at {id(self):#x}>"

    def statistics(self) -> MemoryChannelStatistics:
        return self._core.statistics()

    def receive_nowait(self) -> T:
        """Take a value without blocking; raise ``WouldBlock`` if there is none."""
        if self._closed:
            raise ClosedResourceError("this receive channel is closed")
        core = self._core
        buffer = core.buffer
        senders = core.senders
        if senders:
            # The oldest parked sender's value joins the buffer's tail (FIFO is
            # kept), and that sender is done.
            task, (handle, value) = senders.popitem(last=False)
            handle._waiting.discard(task)
            buffer.append(value)
            _state.runner().reschedule(task, None)
        if buffer:
            return buffer.popleft()
        if not core.open_send:
            raise EndOfChannel
        raise WouldBlock

    async def receive(self) -> T:
        """Wait for the next value; raise ``EndOfChannel`` once every sender is closed."""
        task = _state.local.task
        if task is None:
            raise RuntimeError("must be called from a pike task")
        if task._cancel_scope._effective:
            await checkpoint()  # raises Cancelled
        core = self._core
        # As in send(): test for the cases receive_nowait settles (a value, a
        # parked sender, end of channel, closed) instead of catching WouldBlock.
        if core.senders or core.buffer or self._closed or not core.open_send:
            value = self.receive_nowait()
            await cancel_shielded_checkpoint()
            return value
        receivers = core.receivers
        waiting = self._waiting
        receivers[task] = self
        waiting.add(task)

        def abort(raise_cancel: RaiseCancelT) -> Abort:
            del receivers[task]
            waiting.discard(task)
            return Abort.SUCCEEDED

        # The sender that takes this task off `receivers` reschedules it with a T.
        value = await wait_task_rescheduled(abort)
        return value

    def clone(self) -> MemoryReceiveChannel[T]:
        """Another receive handle on the same channel; values go to one of them each."""
        if self._closed:
            raise ClosedResourceError("cannot clone a closed receive channel")
        return MemoryReceiveChannel(self._core)

    def close(self) -> None:
        """Close this handle; senders get ``BrokenResourceError`` once every receiver is closed.

        Idempotent. This handle's parked receivers get ``ClosedResourceError``;
        when the last receiver closes, buffered values are dropped.
        """
        if self._closed:
            return
        self._closed = True
        core = self._core
        if self._waiting:
            runner = _state.runner()
            for task in self._waiting:
                del core.receivers[task]
                runner.reschedule_error(task, ClosedResourceError("receive channel closed"))
            self._waiting.clear()
        core.open_receive -= 1
        if not core.open_receive:
            if core.senders:
                runner = _state.runner()
                senders = list(core.senders.items())
                core.senders.clear()
                for task, (handle, _) in senders:
                    handle._waiting.discard(task)
                    runner.reschedule_error(
                        task, BrokenResourceError("every receive channel is closed")
                    )
            core.buffer.clear()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    def __enter__(self) -> MemoryReceiveChannel[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> MemoryReceiveChannel[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> MemoryReceiveChannel[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfChannel:
            raise StopAsyncIteration from None


class open_memory_channel(tuple["MemorySendChannel[T]", "MemoryReceiveChannel[T]"]):
    """``open_memory_channel(max_buffer_size)`` -> ``(send_channel, receive_channel)``.

    ``max_buffer_size`` is how many values may wait in the channel with no
    receiver: 0 makes every send a rendezvous with a receiver, ``math.inf``
    never blocks a sender. A class rather than a function only so that
    ``open_memory_channel[int](0)`` spells the item type, as in trio.
    """

    # mypy wants __new__ to return an instance; this one returns the pair by design.
    def __new__(  # type: ignore[misc]  # returns the pair by design
        cls, max_buffer_size: float
    ) -> tuple[MemorySendChannel[T], MemoryReceiveChannel[T]]:
        core: _ChannelCore[T] = _ChannelCore(_check_buffer_size(max_buffer_size))
        return MemorySendChannel(core), MemoryReceiveChannel(core)

    def __init__(self, max_buffer_size: float) -> None:  # pragma: no cover - never runs
        pass
