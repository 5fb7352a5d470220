"""wait_readable / wait_writable / notify_closing and handles, on every notifier."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import pike
from pike import lowlevel
from pike._notifier import available_notifiers, notifier_by_name
from pike.testing import wait_all_tasks_blocked

GUARD = 10  # seconds; a hang fails the test instead of blocking the suite


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def run_on(notifier: str, async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return pike.run(async_fn, *args, notifier=notifier)


def fill(sock: socket.socket) -> int:
    """Write until the send buffer is full; return bytes written."""
    total = 0
    chunk = b"x" * 65536
    while True:
        try:
            total += sock.send(chunk)
        except BlockingIOError:
            return total


def drain(sock: socket.socket) -> int:
    total = 0
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return total
        if not data:
            return total
        total += len(data)


def test_available_notifiers_includes_epoll_on_linux() -> None:
    names = available_notifiers()
    assert "epoll" in names
    assert "poll" in names
    with pytest.raises(ValueError):
        notifier_by_name("no-such-notifier")


def test_run_uses_requested_notifier(notifier: str) -> None:
    async def main() -> str:
        return lowlevel.current_notifier().name

    assert run_on(notifier, main) == notifier


def test_wait_readable_wakes_on_data(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> bytes:
        async with pike.open_nursery() as nursery:

            async def writer() -> None:
                await wait_all_tasks_blocked()
                b.send(b"hello")

            nursery.start_soon(writer)
            with pike.fail_after(GUARD):
                await lowlevel.wait_readable(a)
        return a.recv(100)

    assert run_on(notifier, main) == b"hello"


def test_wait_readable_accepts_int_fd(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        b.send(b"x")
        with pike.fail_after(GUARD):
            await lowlevel.wait_readable(a.fileno())
            await lowlevel.wait_writable(a.fileno())

    run_on(notifier, main)


def test_already_readable_returns_at_once(
    notifier: str, pair: tuple[socket.socket, ...]
) -> None:
    # Edge-triggered epoll sends no new edge for data that is already there;
    # wait_readable must still return (and keep returning while data is unread).
    a, b = pair

    async def main() -> None:
        b.send(b"data")
        with pike.fail_after(GUARD):
            for _ in range(3):
                await lowlevel.wait_readable(a)  # nothing read in between
        assert a.recv(100) == b"data"

    run_on(notifier, main)


def test_already_readable_after_edge_consumed(
    notifier: str, pair: tuple[socket.socket, ...]
) -> None:
    # The edge for the data arrives while a *writer* waits on the same fd (so
    # the notifier sees and consumes it); a later wait_readable must not miss it.
    a, b = pair

    async def main() -> None:
        fill(a)
        async with pike.open_nursery() as nursery:

            async def wait_w() -> None:
                with pike.fail_after(GUARD):
                    await lowlevel.wait_writable(a)

            nursery.start_soon(wait_w)
            await wait_all_tasks_blocked()
            b.send(b"edge")
            for _ in range(3):
                await lowlevel.checkpoint()  # let the notifier see the edge
            drain(b)  # unblock the writer too
        with pike.fail_after(GUARD):
            await lowlevel.wait_readable(a)
        assert a.recv(100) == b"edge"

    run_on(notifier, main)


def test_readable_after_partial_read(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> list[bytes]:
        got = []
        b.send(b"abcdef")
        with pike.fail_after(GUARD):
            for _ in range(3):
                await lowlevel.wait_readable(a)
                got.append(a.recv(2))
        return got

    assert run_on(notifier, main) == [b"ab", b"cd", b"ef"]


def test_wait_writable_on_fresh_socket(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, _ = pair

    async def main() -> None:
        with pike.fail_after(GUARD):
            await lowlevel.wait_writable(a)
            await lowlevel.wait_writable(a)

    run_on(notifier, main)


def test_wait_writable_wakes_when_buffer_drains(
    notifier: str, pair: tuple[socket.socket, ...]
) -> None:
    a, b = pair

    async def main() -> None:
        fill(a)
        async with pike.open_nursery() as nursery:
            woke: list[bool] = []

            async def waiter() -> None:
                with pike.fail_after(GUARD):
                    await lowlevel.wait_writable(a)
                woke.append(True)

            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            assert woke == []  # really blocked: the buffer is full
            drain(b)
        assert woke == [True]
        a.send(b"ok")

    run_on(notifier, main)


def test_wait_readable_blocks_until_data(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, _ = pair

    async def main() -> bool:
        with pike.move_on_after(0.05) as scope:
            await lowlevel.wait_readable(a)
        return scope.cancelled_caught

    assert run_on(notifier, main) is True


def test_reader_and_writer_on_same_fd(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> list[str]:
        log: list[str] = []
        fill(a)
        async with pike.open_nursery() as nursery:

            async def r() -> None:
                await lowlevel.wait_readable(a)
                log.append("readable")

            async def w() -> None:
                await lowlevel.wait_writable(a)
                log.append("writable")

            with pike.fail_after(GUARD):
                nursery.start_soon(r)
                nursery.start_soon(w)
                await wait_all_tasks_blocked()
                b.send(b"x")
                await wait_all_tasks_blocked()
                assert log == ["readable"]
                drain(b)
        return log

    assert run_on(notifier, main) == ["readable", "writable"]


def test_two_readers_busy(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(lowlevel.wait_readable, a)
            await wait_all_tasks_blocked()
            with pytest.raises(pike.BusyResourceError):
                await lowlevel.wait_readable(a)
            with pytest.raises(pike.BusyResourceError):
                await lowlevel.wait_readable(a.fileno())
            b.send(b"x")  # lets the first reader finish

    with_guard(notifier, main)


def test_two_writers_busy(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        fill(a)
        async with pike.open_nursery() as nursery:
            nursery.start_soon(lowlevel.wait_writable, a)
            await wait_all_tasks_blocked()
            with pytest.raises(pike.BusyResourceError):
                await lowlevel.wait_writable(a)
            drain(b)

    with_guard(notifier, main)


def with_guard(notifier: str, main: Callable[[], Awaitable[None]]) -> None:
    async def guarded() -> None:
        with pike.fail_after(GUARD):
            await main()

    run_on(notifier, guarded)


def test_cancel_while_waiting_frees_slot(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            nursery.start_soon(lowlevel.wait_readable, a)
            nursery.start_soon(lowlevel.wait_writable, a)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        b.send(b"x")
        await lowlevel.wait_readable(a)  # the slot is free again
        assert a.recv(10) == b"x"

    with_guard(notifier, main)


def test_wait_readable_when_already_cancelled(
    notifier: str, pair: tuple[socket.socket, ...]
) -> None:
    a, b = pair

    async def main() -> None:
        b.send(b"x")  # even readable: a cancelled wait is a checkpoint
        with pike.CancelScope() as scope:
            scope.cancel()
            await lowlevel.wait_readable(a)
        assert scope.cancelled_caught
        await lowlevel.wait_readable(a)

    with_guard(notifier, main)


def test_notify_closing_wakes_waiters(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, _ = pair

    async def main() -> list[str]:
        log: list[str] = []
        fill(a)

        async def r() -> None:
            try:
                await lowlevel.wait_readable(a)
            except pike.ClosedResourceError:
                log.append("reader closed")

        async def w() -> None:
            try:
                await lowlevel.wait_writable(a)
            except pike.ClosedResourceError:
                log.append("writer closed")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(r)
            nursery.start_soon(w)
            await wait_all_tasks_blocked()
            lowlevel.notify_closing(a)
        return sorted(log)

    assert run_on(notifier, main) == ["reader closed", "writer closed"]


def test_notify_closing_without_waiters_then_close_and_reuse(notifier: str) -> None:
    async def main() -> None:
        for _ in range(3):
            a, b = socket.socketpair()
            a.setblocking(False)
            try:
                b.send(b"x")
                await lowlevel.wait_readable(a)
                lowlevel.notify_closing(a)
                lowlevel.notify_closing(a.fileno())  # twice is harmless
            finally:
                a.close()
                b.close()
            # the fd number is likely reused by the next socketpair: must still work

    with_guard(notifier, main)


def test_peer_close_makes_readable(notifier: str) -> None:
    async def main() -> bytes:
        a, b = socket.socketpair()
        a.setblocking(False)
        try:
            async with pike.open_nursery() as nursery:

                async def closer() -> None:
                    await wait_all_tasks_blocked()
                    b.close()

                nursery.start_soon(closer)
                await lowlevel.wait_readable(a)
            return a.recv(10)
        finally:
            a.close()
            b.close()

    async def guarded() -> bytes:
        with pike.fail_after(GUARD):
            return await main()

    assert run_on(notifier, guarded) == b""


def test_pipe_fds(notifier: str) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)

    async def main() -> bytes:
        async with pike.open_nursery() as nursery:

            async def writer() -> None:
                await wait_all_tasks_blocked()
                os.write(w, b"pipe")

            nursery.start_soon(writer)
            with pike.fail_after(GUARD):
                await lowlevel.wait_readable(r)
        return os.read(r, 10)

    try:
        assert run_on(notifier, main) == b"pipe"
    finally:
        os.close(r)
        os.close(w)


def test_bad_fd_arguments(notifier: str) -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            await lowlevel.wait_readable("not an fd")
        with pytest.raises(TypeError):
            await lowlevel.wait_writable(object())
        with pytest.raises(ValueError):
            await lowlevel.wait_readable(-1)
        with pytest.raises(TypeError):
            lowlevel.notify_closing(3.5)

    run_on(notifier, main)


def test_many_sockets_concurrently(notifier: str) -> None:
    n = 50

    async def main() -> int:
        pairs = [socket.socketpair() for _ in range(n)]
        for a, b in pairs:
            a.setblocking(False)
            b.setblocking(False)
        got = 0
        try:

            async def echo_once(a: socket.socket) -> None:
                nonlocal got
                await lowlevel.wait_readable(a)
                got += len(a.recv(100))

            async with pike.open_nursery() as nursery:
                for a, _ in pairs:
                    nursery.start_soon(echo_once, a)
                await wait_all_tasks_blocked()
                for _, b in reversed(pairs):
                    b.send(b"12345")
        finally:
            for a, b in pairs:
                a.close()
                b.close()
        return got

    async def guarded() -> int:
        with pike.fail_after(GUARD):
            return await main()

    assert run_on(notifier, guarded) == 5 * n


def test_busy_task_does_not_starve_io(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    # A task that only does checkpoints must not keep a ready fd from being seen.
    a, b = pair

    async def main() -> int:
        spins = 0
        async with pike.open_nursery() as nursery:

            async def spinner() -> None:
                nonlocal spins
                while True:
                    spins += 1
                    await lowlevel.checkpoint()

            # (fail_after turns starvation into TooSlowError instead of a hang)

            nursery.start_soon(spinner)
            b.send(b"x")
            with pike.fail_after(GUARD):
                await lowlevel.wait_readable(a)
            nursery.cancel_scope.cancel()
        return spins

    assert run_on(notifier, main) > 0  # the spinner did run meanwhile


# -- handles (the socket layer's interface) ----------------------------------------------


def test_owned_handle_park_and_close(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> list[str]:
        reactor = lowlevel.current_notifier()
        handle = reactor.handle_for(a.fileno())
        assert isinstance(handle, lowlevel.Handle)
        assert handle.fd == a.fileno()
        assert reactor.handle_for(a.fileno()) is handle  # registered once
        log: list[str] = []

        async def reader() -> None:
            try:
                a.recv(10)
            except BlockingIOError:
                await reactor.park_readable(handle)
            log.append(a.recv(10).decode())

        async with pike.open_nursery() as nursery:
            nursery.start_soon(reader)
            await wait_all_tasks_blocked()
            with pytest.raises(pike.BusyResourceError):
                await reactor.park_readable(handle)
            b.send(b"one")

        async def parked_forever() -> None:
            try:
                await reactor.park_readable(handle)
            except pike.ClosedResourceError:
                log.append("closed")

        async with pike.open_nursery() as nursery:
            nursery.start_soon(parked_forever)
            await wait_all_tasks_blocked()
            reactor.notify_closing(a.fileno())
        return log

    async def guarded() -> list[str]:
        with pike.fail_after(GUARD):
            return await main()

    assert run_on(notifier, guarded) == ["one", "closed"]


def test_owned_handle_cancel_park(notifier: str, pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        reactor = lowlevel.current_notifier()
        handle = reactor.handle_for(a.fileno())
        with pike.move_on_after(0.01) as scope:
            await reactor.park_readable(handle)
        assert scope.cancelled_caught
        assert handle.reader is None
        b.send(b"x")
        with pike.fail_after(GUARD):
            await reactor.park_readable(handle)  # the edge from the send wakes us
        reactor.notify_closing(a.fileno())

    run_on(notifier, main)


# -- blocking forever / huge timeouts / cross-thread wake-up ----------------------------


def test_huge_timeouts_do_not_overflow(notifier: str) -> None:
    async def main() -> None:
        with pike.move_on_after(0.02) as scope:
            await pike.sleep(1e300)
        assert scope.cancelled_caught
        with pike.move_on_after(0.02) as scope:
            await pike.sleep_until(pike.current_time() + 1e12)
        assert scope.cancelled_caught

    run_on(notifier, main)


def test_cross_thread_wake_while_blocked_forever(notifier: str) -> None:
    # No timers at all: the notifier blocks with an infinite timeout, and only
    # the cross-thread wake-up (eventfd / self-pipe) can end it.
    import threading

    async def main() -> str:
        token = lowlevel.current_token()
        scope = pike.CancelScope()
        blocked = threading.Event()

        def canceller() -> None:
            blocked.wait(10)
            token.run_sync_soon(scope.cancel)

        t = threading.Thread(target=canceller)
        t.start()
        with scope:
            token.run_sync_soon(blocked.set)
            await pike.sleep_forever()
        t.join()
        return "woken" if scope.cancelled_caught else "not cancelled"

    assert run_on(notifier, main) == "woken"


# -- epoll specifics: registration seen from /proc/self/fdinfo ---------------------------


def _epoll_registrations(epfd: int) -> dict[int, int]:
    """fd -> event mask registered in the epoll instance ``epfd``."""
    regs: dict[int, int] = {}
    with open(f"/proc/self/fdinfo/{epfd}") as f:
        for line in f:
            if line.startswith("tfd:"):
                parts = line.split()
                regs[int(parts[1])] = int(parts[3], 16)
    return regs


def _epoll_fd_of_run() -> int:
    epoll = getattr(lowlevel.current_notifier(), "_epoll", None)
    if epoll is None:
        pytest.skip("not an epoll notifier")
    fd: int = epoll.fileno()
    return fd


def test_epoll_owned_fd_registered_once_edge_triggered(
    pair: tuple[socket.socket, ...],
) -> None:
    import select

    a, b = pair

    async def main() -> None:
        epfd = _epoll_fd_of_run()
        reactor = lowlevel.current_notifier()
        handle = reactor.handle_for(a.fileno())
        mask = _epoll_registrations(epfd)[a.fileno()]
        for bit in (select.EPOLLIN, select.EPOLLOUT, select.EPOLLRDHUP, select.EPOLLET):
            assert mask & bit, f"missing {bit:#x} in {mask:#x}"
        # waiting several times keeps the one registration
        for _ in range(3):
            b.send(b"x")
            with pike.fail_after(GUARD):
                await reactor.park_readable(handle)
            assert a.recv(10) == b"x"
            assert a.fileno() in _epoll_registrations(epfd)
        # deregistered by notify_closing, i.e. before the owner closes the fd
        reactor.notify_closing(a.fileno())
        assert a.fileno() not in _epoll_registrations(epfd)

    pike.run(main, notifier="epoll")


def test_epoll_foreign_fd_deregistered_after_wait(pair: tuple[socket.socket, ...]) -> None:
    a, b = pair

    async def main() -> None:
        epfd = _epoll_fd_of_run()
        b.send(b"x")
        await lowlevel.wait_readable(a)
        assert a.fileno() not in _epoll_registrations(epfd)
        with pike.move_on_after(0.01):
            await lowlevel.wait_writable(b)
            await lowlevel.wait_readable(b)  # cancelled while waiting
        assert b.fileno() not in _epoll_registrations(epfd)

    pike.run(main, notifier="epoll")


def test_epoll_uses_an_eventfd_for_wakeups() -> None:
    async def main() -> list[str]:
        epfd = _epoll_fd_of_run()
        return [
            os.readlink(f"/proc/self/fd/{fd}") for fd in _epoll_registrations(epfd)
        ]

    assert "anon_inode:[eventfd]" in pike.run(main, notifier="epoll")


def test_foreign_fd_reader_finishing_keeps_a_new_writers_registration(notifier: str) -> None:
    # The reader is woken and its transient registration dropped; before the
    # reader runs again, a writer registers the same fd afresh. The reader's
    # clean-up must not remove the writer's registration.
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    try:
        while True:
            a.send(b"x" * 65536)  # fill a's send buffer: a is not writable
    except BlockingIOError:
        pass
    woke: list[str] = []
    reader_task: Any = None

    async def reader() -> None:
        nonlocal reader_task
        reader_task = lowlevel.current_task()
        await lowlevel.wait_readable(a)
        woke.append("reader")

    async def writer() -> None:
        # Spin until the reader has been rescheduled but has not run yet.
        while reader_task is None or reader_task._abort_fn is not None:
            await lowlevel.checkpoint()
        await lowlevel.wait_writable(a)
        woke.append("writer")

    async def main() -> None:
        with pike.fail_after(GUARD):
            async with pike.open_nursery() as nursery:
                nursery.start_soon(reader)
                nursery.start_soon(writer)
                await pike.sleep(0.01)
                b.send(b"hello")  # a becomes readable
                await pike.sleep(0.05)
                while True:  # drain the peer: a becomes writable
                    try:
                        if not b.recv(1 << 20):
                            break
                    except BlockingIOError:
                        break

    try:
        pike.run(main, notifier=notifier)
    finally:
        a.close()
        b.close()
    assert sorted(woke) == ["reader", "writer"]
