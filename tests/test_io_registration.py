"""Registrations that outlive their fd: notify_closing on an open socket, fd-number reuse.

A socket registers its fd with the notifier once and caches the handle. Two ways
for that cache to go stale (issue 9, defects 0c and 1): ``notify_closing`` drops
the registration while the socket stays open, and the socket is closed behind
pike's back so that its fd number comes back as another file.
"""

from __future__ import annotations

import os
import socket as stdlib_socket

from _io_support import Runner, make_runner, run

import pike
from pike import lowlevel

__all__ = ["run"]  # the fixture, imported for pytest


async def _recv_after_parking_once(a: pike.socket.SocketType, b: pike.socket.SocketType) -> None:
    """Make ``a`` park in recv (so it is registered), then feed it."""
    async with pike.open_nursery() as nursery:
        nursery.start_soon(a.recv, 10)
        await pike.testing.wait_all_tasks_blocked()
        await b.send(b"x")


def test_recv_wakes_after_notify_closing_on_a_socket_that_stays_open(run: Runner) -> None:
    async def main() -> bytes:
        a, b = pike.socket.socketpair()
        with a, b:
            await _recv_after_parking_once(a, b)
            lowlevel.notify_closing(a)  # the socket itself stays open
            got = b""
            async with pike.open_nursery() as nursery:

                async def reader() -> None:
                    nonlocal got
                    got = await a.recv(10)

                nursery.start_soon(reader)
                await pike.testing.wait_all_tasks_blocked()
                await b.send(b"after")
            return got

    assert run(main) == b"after"


def test_wait_readable_on_a_reused_fd_number(run: Runner) -> None:
    """The owner closes a registered socket's fd directly; a pipe gets the number."""

    async def main() -> bytes:
        raw_a, raw_b = stdlib_socket.socketpair()
        a = pike.socket.from_stdlib_socket(raw_a)
        with raw_b, pike.socket.from_stdlib_socket(raw_b.dup()) as b:
            await _recv_after_parking_once(a, b)
            number = raw_a.fileno()
            raw_a.close()  # bypasses pike: the registration is now stale
            r, w = os.pipe()
            try:
                assert r == number or w == number, "the test needs the fd number reused"
                reading = r if r == number else os.dup2(r, number)
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(lowlevel.wait_readable, reading)
                    await pike.testing.wait_all_tasks_blocked()
                    os.write(w, b"p")
                return os.read(reading, 1)
            finally:
                os.close(r)
                os.close(w)

    assert run(main) == b"p"


def test_a_task_parked_on_a_closed_and_reused_fd_is_not_woken_by_the_new_file() -> None:
    """A waiter left on the stale registration gets ClosedResourceError, never
    the new file's readiness, and the new file's waiter is not refused as busy.

    epoll only: it keys registrations by file, so a reused number is detectable
    (EPOLL_CTL_MOD fails). poll(2) watches numbers, not files: there the stale
    waiter and the new file are indistinguishable, as they are to the kernel.
    """
    run = make_runner("epoll")

    async def main() -> list[str]:
        seen: list[str] = []
        raw_a, raw_b = stdlib_socket.socketpair()
        a = pike.socket.from_stdlib_socket(raw_a)

        async def stale_reader() -> None:
            try:
                await lowlevel.wait_readable(a)
                seen.append("stale woken")
            except pike.ClosedResourceError:
                seen.append("stale closed")

        with raw_b:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(stale_reader)
                await pike.testing.wait_all_tasks_blocked()
                number = raw_a.fileno()
                raw_a.close()
                r, w = os.pipe()
                try:
                    reading = r if r == number else os.dup2(r, number)
                    os.write(w, b"p")
                    with pike.move_on_after(5) as scope:
                        await lowlevel.wait_readable(reading)
                        seen.append("new readable")
                    if scope.cancelled_caught:
                        seen.append("new timed out")
                        nursery.cancel_scope.cancel()
                finally:
                    os.close(r)
                    os.close(w)
        return seen

    seen = run(main)
    assert "new readable" in seen
    assert "stale woken" not in seen
