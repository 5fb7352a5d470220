"""Checks that a stream implementation honours pike's stream contract.

A library that writes its own stream (TLS, a framing layer, a pipe wrapper)
runs ``check_one_way_stream``/``check_two_way_stream``/
``check_half_closeable_stream`` from an async test. Each check takes a
*maker*, an async function returning a fresh connected pair, calls it once per
property, and raises ``AssertionError`` naming the property that failed.

The contract, as these checks state it:

* bytes arrive complete and in order, whatever the chunking; ``send_all``
  takes bytes, bytearray and memoryview; ``receive_some(n)`` returns 1..n
  bytes, ``b""`` only at end of data, and rejects ``n < 1`` with ValueError;
* two tasks sending (or two receiving) at once is BusyResourceError;
* after the sender closes, the receiver drains the data, then gets ``b""``
  every time; using a closed stream is ClosedResourceError, and ``aclose``
  is idempotent and closes the stream even when cancelled;
* closing a stream wakes its blocked tasks with ClosedResourceError; once
  the receiver is closed, sending fails with BrokenResourceError (perhaps
  after some data is absorbed by buffers);
* a cancelled ``receive_some`` loses no data.

The *clogged* maker (optional) returns a pair whose ``send_all`` blocks until
the receiver reads; the checks that need a blocked sender use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from .._kernel._cancel import CancelScope, fail_after, move_on_after
from .._kernel._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    ClosedResourceError,
)
from .._kernel._idle import wait_all_tasks_blocked
from .._kernel._nursery import open_nursery

PairMaker = Callable[[], Awaitable[tuple[Any, Any]]]

# Every check runs under this deadline: a stream that hangs fails, not blocks.
CHECK_TIMEOUT = 60.0
_BIG = 1 << 20  # more than a default socketpair's buffers: both ends must be drained
_CLOG_LIMIT = 64 << 20


class _Expect:
    """``async with _expect(Error, "what")``: fail clearly if Error is not raised."""

    def __init__(self, error: type[BaseException], what: str) -> None:
        self.error = error
        self.what = what

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> bool:
        if exc_type is None:
            raise AssertionError(f"{self.what}: expected {self.error.__name__}, nothing raised")
        if not issubclass(exc_type, self.error):
            raise AssertionError(
                f"{self.what}: expected {self.error.__name__}, got {exc_type.__name__}"
            ) from exc if isinstance(exc, BaseException) else None
        return True


async def _aclose_forcefully(resource: Any) -> None:
    with CancelScope() as scope:
        scope.cancel()
        await resource.aclose()


@asynccontextmanager
async def _pair(maker: PairMaker) -> AsyncIterator[tuple[Any, Any]]:
    send, receive = await maker()
    try:
        with fail_after(CHECK_TIMEOUT):
            yield send, receive
    except BaseExceptionGroup as group:
        # A failed property inside a nursery: report the assertion itself.
        failure = _first_assertion(group)
        if failure is None:
            raise
        raise failure from group
    finally:
        await _aclose_forcefully(send)
        await _aclose_forcefully(receive)


def _first_assertion(error: BaseException) -> AssertionError | None:
    if isinstance(error, AssertionError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _first_assertion(inner)
            if found is not None:
                return found
    return None


async def _receive_exactly(stream: Any, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = await stream.receive_some()
        if not chunk:
            raise AssertionError(f"unexpected end of data after {len(data)} of {count} bytes")
        data += chunk
    return bytes(data)


async def _check_round_trip(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        payload = bytes(range(256)) * 1024
        pieces = [payload[:1], bytearray(payload[1:5000]), memoryview(payload)[5000:]]

        async def sender() -> None:
            for piece in pieces:
                await s.send_all(piece)
            await s.send_all(b"")
            await s.aclose()  # a stream that lost bytes then shows an early end

        async with open_nursery() as nursery:
            nursery.start_soon(sender)
            received = await _receive_exactly(r, len(payload))
        assert received == payload, "the received bytes differ from the sent ones"


async def _check_max_bytes(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        for bad in (0, -1):
            with _Expect(ValueError, f"receive_some({bad})"):
                await r.receive_some(bad)

        async with open_nursery() as nursery:
            nursery.start_soon(s.send_all, b"abcdef")
            first = await r.receive_some(2)
            assert 1 <= len(first) <= 2, f"receive_some(2) returned {len(first)} bytes"
            rest = await _receive_exactly(r, 6 - len(first))
        assert first + rest == b"abcdef", "receive_some(2) lost or reordered bytes"


async def _check_concurrent_receive_is_busy(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r), open_nursery() as nursery:
        nursery.start_soon(r.receive_some)
        await wait_all_tasks_blocked()
        with _Expect(BusyResourceError, "receive_some while another receive_some waits"):
            await r.receive_some()
        await s.send_all(b"x")


async def _check_wait_send_all_might_not_block(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        got: list[bytes] = []

        async def sender() -> None:
            await s.wait_send_all_might_not_block()
            await s.send_all(b"z")

        async def receiver() -> None:
            got.append(await r.receive_some())

        async with open_nursery() as nursery:
            nursery.start_soon(sender)
            nursery.start_soon(receiver)
        assert got == [b"z"], f"expected [b'z'] after wait_send_all_might_not_block, got {got}"


async def _check_eof(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r), open_nursery() as nursery:

        async def sender() -> None:
            await s.send_all(b"last words")
            await s.aclose()

        nursery.start_soon(sender)
        assert await _receive_exactly(r, 10) == b"last words"
        for _ in range(3):
            data = await r.receive_some()
            assert data == b"", f"after the sender closed: expected b'', got {data!r}"


async def _check_closed_sender(maker: PairMaker) -> None:
    async with _pair(maker) as (s, _):
        await s.aclose()
        await s.aclose()  # idempotent
        with _Expect(ClosedResourceError, "send_all on a closed stream"):
            await s.send_all(b"x")
        with _Expect(ClosedResourceError, "wait_send_all_might_not_block on a closed stream"):
            await s.wait_send_all_might_not_block()


async def _check_closed_receiver(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        await r.aclose()
        await r.aclose()
        with _Expect(ClosedResourceError, "receive_some on a closed stream"):
            await r.receive_some()
        with _Expect(BrokenResourceError, "sending to a closed receiver (eventually)"):
            for _ in range(1000):
                await s.send_all(b"x" * 65536)


async def _check_aclose_when_cancelled(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        with CancelScope() as scope:
            scope.cancel()
            await s.aclose()
        with _Expect(ClosedResourceError, "send_all after an aclose() that was cancelled"):
            await s.send_all(b"x")
        with CancelScope() as scope:
            scope.cancel()
            await r.aclose()
        with _Expect(ClosedResourceError, "receive_some after an aclose() that was cancelled"):
            await r.receive_some()


async def _check_close_wakes_receiver(maker: PairMaker) -> None:
    async with _pair(maker) as (_, r):

        async def receiver() -> None:
            with _Expect(ClosedResourceError, "a receive_some blocked while its stream closed"):
                await r.receive_some()

        async with open_nursery() as nursery:
            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            await r.aclose()


async def _check_cancelled_receive_loses_nothing(maker: PairMaker) -> None:
    async with _pair(maker) as (s, r):
        with move_on_after(0.01):
            await r.receive_some()
        async with open_nursery() as nursery:
            nursery.start_soon(s.send_all, b"still here")
            assert await _receive_exactly(r, 10) == b"still here"


async def _send_until_blocked(stream: Any) -> None:
    """Send until a ``send_all`` blocks (a clogged stream must block sooner or later)."""
    chunk = b"x" * 65536
    for _ in range(_CLOG_LIMIT // len(chunk)):
        await stream.send_all(chunk)
    raise AssertionError(
        f"the clogged stream took {_CLOG_LIMIT} bytes without blocking: is it really clogged?"
    )


async def _check_clogged_send_is_busy_and_wakes_on_close(clogged: PairMaker) -> None:
    async with _pair(clogged) as (s, _):

        async def blocked_sender() -> None:
            with _Expect(ClosedResourceError, "a send_all blocked while its stream closed"):
                await _send_until_blocked(s)

        async with open_nursery() as nursery:
            nursery.start_soon(blocked_sender)
            await wait_all_tasks_blocked()
            with _Expect(BusyResourceError, "send_all while another send_all waits"):
                await s.send_all(b"y")
            with _Expect(BusyResourceError, "wait_send_all_might_not_block during a send_all"):
                await s.wait_send_all_might_not_block()
            await s.aclose()


async def _check_clogged_send_can_be_cancelled(clogged: PairMaker) -> None:
    async with _pair(clogged) as (s, _):
        with CancelScope() as scope:
            async with open_nursery() as nursery:

                nursery.start_soon(_send_until_blocked, s)
                await wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught, "a blocked send_all did not take its cancellation"


async def check_one_way_stream(
    stream_maker: PairMaker, clogged_stream_maker: PairMaker | None
) -> None:
    """Check a (send stream, receive stream) pair against the stream contract."""
    for check in (
        _check_round_trip,
        _check_max_bytes,
        _check_concurrent_receive_is_busy,
        _check_wait_send_all_might_not_block,
        _check_eof,
        _check_closed_sender,
        _check_closed_receiver,
        _check_aclose_when_cancelled,
        _check_close_wakes_receiver,
        _check_cancelled_receive_loses_nothing,
    ):
        await check(stream_maker)
    if clogged_stream_maker is not None:
        await _check_clogged_send_is_busy_and_wakes_on_close(clogged_stream_maker)
        await _check_clogged_send_can_be_cancelled(clogged_stream_maker)


def _flipped(maker: PairMaker) -> PairMaker:
    async def flipped() -> tuple[Any, Any]:
        a, b = await maker()
        return b, a

    return flipped


async def _check_both_ways_at_once(maker: PairMaker) -> None:
    async with _pair(maker) as (a, b):
        payload_a = b"a" * _BIG
        payload_b = b"b" * _BIG
        results: dict[str, bytes] = {}

        async def receive_into(name: str, stream: Any, count: int) -> None:
            results[name] = await _receive_exactly(stream, count)

        # Both sides send more than any buffer holds before either reads:
        # only a stream whose directions are independent gets through.
        async with open_nursery() as nursery:
            nursery.start_soon(a.send_all, payload_a)
            nursery.start_soon(b.send_all, payload_b)
            nursery.start_soon(receive_into, "at b", b, len(payload_a))
            nursery.start_soon(receive_into, "at a", a, len(payload_b))
        assert results == {"at b": payload_a, "at a": payload_b}, "a direction lost bytes"


async def check_two_way_stream(
    stream_maker: PairMaker, clogged_stream_maker: PairMaker | None
) -> None:
    """Check a pair of connected bidirectional streams: each direction, then both at once."""
    await check_one_way_stream(stream_maker, clogged_stream_maker)
    await check_one_way_stream(
        _flipped(stream_maker),
        None if clogged_stream_maker is None else _flipped(clogged_stream_maker),
    )
    await _check_both_ways_at_once(stream_maker)


async def _check_send_eof(maker: PairMaker) -> None:
    async with _pair(maker) as (a, b):
        async with open_nursery() as nursery:

            async def half_close() -> None:
                await a.send_all(b"bye")
                await a.send_eof()
                await a.send_eof()  # idempotent

            nursery.start_soon(half_close)
            assert await _receive_exactly(b, 3) == b"bye"
            data = await b.receive_some()
            assert data == b"", f"after send_eof the peer should read b'', got {data!r}"
        with _Expect(ClosedResourceError, "send_all after send_eof"):
            await a.send_all(b"more")
        # The other direction still works.
        async with open_nursery() as nursery:
            nursery.start_soon(b.send_all, b"reply")
            reply = await _receive_exactly(a, 5)
        assert reply == b"reply", "the other direction broke after send_eof"


async def _check_send_eof_busy(clogged: PairMaker) -> None:
    async with _pair(clogged) as (a, _), open_nursery() as nursery:

        async def blocked_sender() -> None:
            try:
                await _send_until_blocked(a)
            except (ClosedResourceError, BrokenResourceError, Cancelled):
                pass

        nursery.start_soon(blocked_sender)
        await wait_all_tasks_blocked()
        with _Expect(BusyResourceError, "send_eof while a send_all waits"):
            await a.send_eof()
        nursery.cancel_scope.cancel()


async def check_half_closeable_stream(
    stream_maker: PairMaker, clogged_stream_maker: PairMaker | None
) -> None:
    """``check_two_way_stream`` plus ``send_eof``: half-closing, idempotence, conflicts."""
    await check_two_way_stream(stream_maker, clogged_stream_maker)
    await _check_send_eof(stream_maker)
    await _check_send_eof(_flipped(stream_maker))
    if clogged_stream_maker is not None:
        await _check_send_eof_busy(clogged_stream_maker)
