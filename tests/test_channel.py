"""Memory channels: buffering, rendezvous, closing rules, fairness, cancellation, bad input."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike.testing import MockClock, wait_all_tasks_blocked


def run_mock(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    return pike.run(async_fn, clock=MockClock(autojump_threshold=0))


def test_buffered_fifo_and_nowait() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](2)
        send.send_nowait(1)
        await send.send(2)
        with pytest.raises(pike.WouldBlock):
            send.send_nowait(3)
        stats = send.statistics()
        assert (stats.current_buffer_used, stats.max_buffer_size) == (2, 2)
        assert (stats.open_send_channels, stats.open_receive_channels) == (1, 1)
        assert receive.receive_nowait() == 1
        assert await receive.receive() == 2
        with pytest.raises(pike.WouldBlock):
            receive.receive_nowait()

    pike.run(main)


def test_rendezvous_send_waits_for_a_receiver() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[str](0)
        log: list[str] = []
        with pytest.raises(pike.WouldBlock):
            send.send_nowait("x")

        async def sender() -> None:
            await send.send("a")
            log.append("sent")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            assert log == []
            assert send.statistics().tasks_waiting_send == 1
            assert receive.receive_nowait() == "a"
            await wait_all_tasks_blocked()
            assert log == ["sent"]

            # A parked receiver makes send_nowait succeed on a rendezvous channel.
            async def receiver() -> None:
                log.append(await receive.receive())

            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            assert receive.statistics().tasks_waiting_receive == 1
            send.send_nowait("b")
        assert log == ["sent", "b"]

    pike.run(main)


def test_infinite_buffer_never_blocks() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](math.inf)
        for i in range(1000):
            send.send_nowait(i)
        assert send.statistics().max_buffer_size == math.inf
        send.close()
        assert [x async for x in receive] == list(range(1000))

    pike.run(main)


@pytest.mark.parametrize("size", [-1, -5])
def test_negative_buffer_size_is_a_value_error(size: int) -> None:
    with pytest.raises(ValueError, match="max_buffer_size"):
        pike.open_memory_channel(size)


@pytest.mark.parametrize("size", [1.5, "3", None, True, -math.inf, math.nan])
def test_non_integer_buffer_size_is_a_type_error(size: Any) -> None:
    with pytest.raises(TypeError, match="max_buffer_size"):
        pike.open_memory_channel(size)


def test_end_of_channel_only_after_every_sender_closes() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](5)
        clone = send.clone()
        await send.send(1)
        await send.aclose()
        assert receive.receive_nowait() == 1
        with pytest.raises(pike.WouldBlock):
            receive.receive_nowait()  # the clone is still open
        await clone.send(2)
        clone.close()
        assert await receive.receive() == 2  # buffered values outlive the senders
        with pytest.raises(pike.EndOfChannel):
            await receive.receive()
        with pytest.raises(pike.EndOfChannel):
            receive.receive_nowait()

    pike.run(main)


def test_closing_last_sender_wakes_parked_receivers_with_end_of_channel() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        results: list[str] = []

        async def receiver() -> None:
            try:
                await receive.receive()
            except pike.EndOfChannel:
                results.append("end")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(receiver)
            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            send.close()
        assert results == ["end", "end"]

    pike.run(main)


def test_broken_once_every_receiver_closes() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        clone = receive.clone()
        errors: list[type[BaseException]] = []

        async def sender() -> None:
            try:
                await send.send(1)
            except pike.BrokenResourceError as exc:
                errors.append(type(exc))

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            receive.close()
            await wait_all_tasks_blocked()
            assert errors == []  # the clone could still take it
            clone.close()
        assert errors == [pike.BrokenResourceError]
        with pytest.raises(pike.BrokenResourceError):
            send.send_nowait(2)
        with pytest.raises(pike.BrokenResourceError):
            await send.send(2)

    pike.run(main)


def test_last_receiver_closing_drops_the_buffer() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](3)
        send.send_nowait(1)
        receive.close()
        assert send.statistics().current_buffer_used == 0

    pike.run(main)


def test_using_a_closed_handle_is_closed_resource_error() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](1)
        send.close()
        send.close()  # idempotent
        receive.close()
        with pytest.raises(pike.ClosedResourceError):
            send.send_nowait(1)
        with pytest.raises(pike.ClosedResourceError):
            await send.send(1)
        with pytest.raises(pike.ClosedResourceError):
            send.clone()
        with pytest.raises(pike.ClosedResourceError):
            receive.receive_nowait()
        with pytest.raises(pike.ClosedResourceError):
            await receive.receive()
        with pytest.raises(pike.ClosedResourceError):
            receive.clone()

    pike.run(main)


def test_closing_a_handle_wakes_only_its_own_waiters_with_closed_resource() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        other = receive.clone()
        got: dict[str, object] = {}

        async def wait_on(name: str, handle: pike.MemoryReceiveChannel[int]) -> None:
            try:
                got[name] = await handle.receive()
            except pike.ClosedResourceError:
                got[name] = "closed"

        async with pike.open_nursery() as nursery:
            nursery.start_soon(wait_on, "a", receive)
            await wait_all_tasks_blocked()
            nursery.start_soon(wait_on, "b", other)
            await wait_all_tasks_blocked()
            receive.close()
            await wait_all_tasks_blocked()
            assert got == {"a": "closed"}
            await send.send(7)
        assert got == {"a": "closed", "b": 7}

    pike.run(main)


def test_closing_a_send_handle_wakes_its_parked_senders() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        outcome: list[str] = []

        async def sender() -> None:
            try:
                await send.send(1)
            except pike.ClosedResourceError:
                outcome.append("closed")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            send.close()
        assert outcome == ["closed"]
        assert receive.statistics().tasks_waiting_send == 0
        with pytest.raises(pike.EndOfChannel):
            receive.receive_nowait()  # the value was never delivered

    pike.run(main)


def test_fifo_fairness_among_waiters() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[tuple[int, int]](0)
        received: list[int] = []

        async def receiver(i: int) -> None:
            await receive.receive()
            received.append(i)

        async with pike.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(receiver, i)
                await wait_all_tasks_blocked()
            for i in range(5):
                await send.send((i, i))
        assert received == [0, 1, 2, 3, 4]

        # And senders: parked senders are taken oldest first.
        send2, receive2 = pike.open_memory_channel[int](1)
        send2.send_nowait(-1)
        async with pike.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(send2.send, i)
                await wait_all_tasks_blocked()
            values = [await receive2.receive() for _ in range(6)]
        assert values == [-1, 0, 1, 2, 3, 4]

    pike.run(main)


def test_every_operation_is_a_checkpoint() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](10)
        with pike.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(pike.Cancelled):
                await send.send(1)
        assert send.statistics().current_buffer_used == 0  # nothing was sent
        send.send_nowait(1)
        with pike.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(pike.Cancelled):
                await receive.receive()
        assert receive.receive_nowait() == 1  # nothing was taken

        # A successful send/receive also yields to other tasks.
        ticks: list[str] = []

        async def other() -> None:
            ticks.append("other")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(other)
            await send.send(2)
            assert ticks == ["other"]
        assert await receive.receive() == 2

    pike.run(main)


def test_cancelled_waiters_lose_and_take_nothing() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        with pike.move_on_after(1):
            await send.send(1)
        with pike.move_on_after(1):
            await receive.receive()
        stats = send.statistics()
        assert (stats.tasks_waiting_send, stats.tasks_waiting_receive) == (0, 0)
        async with pike.open_nursery() as nursery:
            nursery.start_soon(send.send, 2)
            assert await receive.receive() == 2

    run_mock(main)


def test_value_handed_to_a_receiver_survives_a_later_cancel() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](0)
        got: list[int] = []

        async def receiver(scope: pike.CancelScope) -> None:
            with scope:
                got.append(await receive.receive())

        scope = pike.CancelScope()
        async with pike.open_nursery() as nursery:
            nursery.start_soon(receiver, scope)
            await wait_all_tasks_blocked()
            send.send_nowait(5)  # hands the value over ...
            scope.cancel()  # ... before the receiver has run again
        assert got == [5]

    pike.run(main)


def test_context_managers_close() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](1)
        with send:
            pass
        async with receive:
            pass
        assert send.statistics().open_send_channels == 0
        assert send.statistics().open_receive_channels == 0
        assert "closed" in repr(send) and "closed" in repr(receive)

    pike.run(main)


def test_many_producers_and_consumers_with_clones() -> None:
    async def main() -> None:
        send, receive = pike.open_memory_channel[int](3)
        total: list[int] = []

        async def producer(handle: pike.MemorySendChannel[int], base: int) -> None:
            async with handle:
                for i in range(100):
                    await handle.send(base + i)

        async def consumer(handle: pike.MemoryReceiveChannel[int]) -> None:
            async with handle:
                async for value in handle:
                    total.append(value)

        async with pike.open_nursery() as nursery, send, receive:
            for k in range(4):
                nursery.start_soon(producer, send.clone(), k * 1000)
            for _ in range(3):
                nursery.start_soon(consumer, receive.clone())
        assert sorted(total) == sorted(k * 1000 + i for k in range(4) for i in range(100))

    pike.run(main)
