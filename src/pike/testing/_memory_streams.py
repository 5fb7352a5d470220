"""In-memory streams for tests: byte queues whose every step a test can drive.

``MemorySendStream`` collects what is sent, for the test to take with
``get_data``; ``MemoryReceiveStream`` returns what the test feeds in with
``put_data``/``put_eof``. Hooks run on each operation, which is how
``memory_stream_one_way_pair`` wires one to the other (a pump that moves the
bytes across) and how a test can add delays, errors or checks of its own.

``lockstep_stream_one_way_pair`` has no buffer at all: ``send_all`` returns
only once a receiver has taken every byte, the tightest a stream may be, and
good at exposing code that expects sends to complete on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .._kernel._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    WouldBlock,
)
from .._kernel._parking import ParkingLot
from .._kernel._traps import cancel_shielded_checkpoint, checkpoint, checkpoint_if_cancelled
from .._receive_size import receive_size
from ._stapled import StapledStream

AsyncHook = Callable[[], Awaitable[object]]
SyncHook = Callable[[], object]


class _ByteQueue:
    """Unbounded bytes with end-of-data; one reader at a time."""

    __slots__ = ("_data", "_eof", "_lot", "_reading")

    def __init__(self) -> None:
        self._data = bytearray()
        self._eof = False
        self._lot = ParkingLot()
        self._reading = False

    def __len__(self) -> int:
        return len(self._data)

    def put(self, data: bytes) -> None:
        if self._eof:
            raise ClosedResourceError("no more data can be put: the queue was closed")
        self._data += data
        self._lot.unpark_all()

    def close(self, *, discard: bool = False) -> None:
        self._eof = True
        if discard:
            self._data.clear()
        self._lot.unpark_all()

    def _take(self, max_bytes: int | None) -> bytes:
        count = len(self._data) if max_bytes is None else max_bytes
        chunk = bytes(self._data[:count])
        del self._data[:count]
        return chunk

    def get_nowait(self, max_bytes: int | None) -> bytes:
        if self._reading:
            raise BusyResourceError("another task is already reading this data")
        if not self._data and not self._eof:
            raise WouldBlock
        return self._take(max_bytes)

    async def get(self, max_bytes: int | None) -> bytes:
        if self._reading:
            raise BusyResourceError("another task is already reading this data")
        self._reading = True
        try:
            await checkpoint_if_cancelled()
            if self._data or self._eof:
                await cancel_shielded_checkpoint()
            while not self._data and not self._eof:
                await self._lot.park()
            return self._take(max_bytes)
        finally:
            self._reading = False


def _check_max_bytes(max_bytes: int | None) -> int | None:
    return None if max_bytes is None else receive_size(max_bytes)


class MemorySendStream:
    """A send stream whose data the test collects with ``get_data``.

    ``send_all_hook`` and ``wait_send_all_might_not_block_hook`` (async) run
    after the operation; ``close_hook`` (sync) runs when the stream closes.
    """

    def __init__(
        self,
        send_all_hook: AsyncHook | None = None,
        wait_send_all_might_not_block_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self.send_all_hook = send_all_hook
        self.wait_send_all_might_not_block_hook = wait_send_all_might_not_block_hook
        self.close_hook = close_hook
        self._outgoing = _ByteQueue()
        self._closed = False
        self._sending = False

    def _enter_send(self) -> None:
        if self._closed:
            raise ClosedResourceError("this send stream was closed")
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        self._sending = True

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` (copied) for ``get_data``, then run ``send_all_hook``."""
        self._enter_send()
        try:
            await checkpoint()
            if self._closed:
                raise ClosedResourceError("this send stream was closed")
            self._outgoing.put(bytes(data))
            if self.send_all_hook is not None:
                await self.send_all_hook()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        self._enter_send()
        try:
            await checkpoint()
            if self._closed:
                raise ClosedResourceError("this send stream was closed")
            if self.wait_send_all_might_not_block_hook is not None:
                await self.wait_send_all_might_not_block_hook()
        finally:
            self._sending = False

    def close(self) -> None:
        """Close now (what is already queued can still be collected, then EOF)."""
        if self._closed:
            return
        self._closed = True
        self._outgoing.close()
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def get_data(self, max_bytes: int | None = None) -> bytes:
        """Wait for sent data and take up to ``max_bytes`` of it; ``b""`` once closed."""
        return await self._outgoing.get(_check_max_bytes(max_bytes))

    def get_data_nowait(self, max_bytes: int | None = None) -> bytes:
        """Take sent data without waiting; ``WouldBlock`` if there is none yet."""
        return self._outgoing.get_nowait(_check_max_bytes(max_bytes))

    async def __aenter__(self) -> MemorySendStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class MemoryReceiveStream:
    """A receive stream the test feeds with ``put_data`` and ``put_eof``.

    ``receive_some_hook`` (async) runs before each receive; ``close_hook``
    (sync) when the stream closes.
    """

    def __init__(
        self,
        receive_some_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self.receive_some_hook = receive_some_hook
        self.close_hook = close_hook
        self._incoming = _ByteQueue()
        self._closed = False
        self._receiving = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        max_bytes = receive_size(max_bytes)
        if self._closed:
            raise ClosedResourceError("this receive stream was closed")
        if self._receiving:
            raise BusyResourceError("another task is already receiving on this stream")
        self._receiving = True
        try:
            if self.receive_some_hook is not None:
                await self.receive_some_hook()
            data = await self._incoming.get(max_bytes)
            if self._closed:  # closed by another task while we waited
                raise ClosedResourceError("this receive stream was closed")
            return data
        finally:
            self._receiving = False

    def close(self) -> None:
        """Close now; unread data is dropped and later ``put_data`` calls fail."""
        if self._closed:
            return
        self._closed = True
        self._incoming.close(discard=True)
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    def put_data(self, data: bytes | bytearray | memoryview) -> None:
        """Make ``data`` available to ``receive_some``."""
        self._incoming.put(bytes(data))

    def put_eof(self) -> None:
        """After the data already put, ``receive_some`` returns ``b""``."""
        self._incoming.close()

    async def __aenter__(self) -> MemoryReceiveStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def memory_stream_pump(
    memory_send_stream: MemorySendStream,
    memory_receive_stream: MemoryReceiveStream,
    *,
    max_bytes: int | None = None,
) -> bool:
    """Move queued data (or EOF) from a send stream into a receive stream.

    Returns whether anything moved. A closed receive stream makes the sender's
    side ``BrokenResourceError``, as a peer that went away would.
    """
    try:
        data = memory_send_stream.get_data_nowait(max_bytes)
    except WouldBlock:
        return False
    try:
        if data:
            memory_receive_stream.put_data(data)
        else:
            memory_receive_stream.put_eof()
    except ClosedResourceError:
        raise BrokenResourceError("the receive stream was closed") from None
    return True


def memory_stream_one_way_pair() -> tuple[MemorySendStream, MemoryReceiveStream]:
    """A connected (send, receive) pair with an unbounded buffer between them."""
    send_stream = MemorySendStream()
    receive_stream = MemoryReceiveStream()

    def pump() -> None:
        memory_stream_pump(send_stream, receive_stream)

    async def async_pump() -> None:
        pump()

    send_stream.send_all_hook = async_pump
    receive_stream.receive_some_hook = async_pump
    send_stream.close_hook = pump
    return send_stream, receive_stream


def _stapled_pair(
    make_one_way: Callable[[], tuple[Any, Any]],
) -> tuple[StapledStream, StapledStream]:
    a_send, b_receive = make_one_way()
    b_send, a_receive = make_one_way()
    return StapledStream(a_send, a_receive), StapledStream(b_send, b_receive)


def memory_stream_pair() -> tuple[StapledStream, StapledStream]:
    """Two connected bidirectional in-memory streams (``send_eof`` supported)."""
    return _stapled_pair(memory_stream_one_way_pair)


class _Lockstep:
    """The state both ends of a lockstep pair share."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.sender_closed = False
        self.receiver_closed = False
        self.receiver_waiting = False
        self.sending = False
        self.receiving = False
        self.changed = ParkingLot()

    def notify(self) -> None:
        self.changed.unpark_all()


class _LockstepSendStream:
    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    def _enter(self) -> _Lockstep:
        state = self._state
        if state.sender_closed:
            raise ClosedResourceError("this send stream was closed")
        if state.sending:
            raise BusyResourceError("another task is already sending on this stream")
        if state.receiver_closed:
            raise BrokenResourceError("the receive stream was closed")
        state.sending = True
        return state

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Hand ``data`` over; return once the receiver has taken all of it."""
        state = self._enter()
        try:
            await checkpoint_if_cancelled()
            state.data += data
            state.notify()
            parked = False
            while state.data:
                if state.sender_closed:
                    raise ClosedResourceError("this send stream was closed")
                if state.receiver_closed:
                    raise BrokenResourceError("the receive stream was closed")
                await state.changed.park()
                parked = True
            if not parked:
                await cancel_shielded_checkpoint()
        finally:
            state.sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Return once a receiver is waiting (only then can a send finish at once)."""
        state = self._enter()
        try:
            await checkpoint()
            while not state.receiver_waiting:
                if state.sender_closed:
                    raise ClosedResourceError("this send stream was closed")
                if state.receiver_closed:
                    return  # a send would not block: it would fail at once
                await state.changed.park()
        finally:
            state.sending = False

    def close(self) -> None:
        self._state.sender_closed = True
        self._state.notify()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def __aenter__(self) -> _LockstepSendStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _LockstepReceiveStream:
    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        max_bytes = receive_size(max_bytes)
        state = self._state
        if state.receiver_closed:
            raise ClosedResourceError("this receive stream was closed")
        if state.receiving:
            raise BusyResourceError("another task is already receiving on this stream")
        state.receiving = True
        try:
            await checkpoint_if_cancelled()
            parked = False
            while not state.data and not state.sender_closed:
                state.receiver_waiting = True
                state.notify()
                try:
                    await state.changed.park()
                finally:
                    state.receiver_waiting = False
                parked = True
                if state.receiver_closed:
                    raise ClosedResourceError("this receive stream was closed")
            chunk = bytes(state.data[:max_bytes])
            del state.data[:max_bytes]
            state.notify()
            if not parked:
                await cancel_shielded_checkpoint()
            return chunk
        finally:
            state.receiving = False

    def close(self) -> None:
        self._state.receiver_closed = True
        self._state.notify()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()

    async def __aenter__(self) -> _LockstepReceiveStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def lockstep_stream_one_way_pair() -> tuple[_LockstepSendStream, _LockstepReceiveStream]:
    """A connected (send, receive) pair with no buffer: each send waits for the receiver."""
    state = _Lockstep()
    return _LockstepSendStream(state), _LockstepReceiveStream(state)


def lockstep_stream_pair() -> tuple[StapledStream, StapledStream]:
    """Two connected bidirectional unbuffered streams (``send_eof`` supported)."""
    return _stapled_pair(lockstep_stream_one_way_pair)
