"""Fault injection: what pike does when the OS says no.

Each scenario provokes one fault on loopback (fd exhaustion at accept, at ``socket()``
and at ``pike.run`` start-up; a peer reset during recv and during send; EPIPE; a
half-close; a close while another task is blocked; an fd number reused by another
file; ``wait_readable`` on pipes and regular files) and checks the observable outcome:
the documented error, no hang, no lost byte, no fd left open. Each returns one line of
figures.

``python -m stress faults [--long]``: the long mode repeats every scenario 20 times.
"""

from __future__ import annotations

import argparse
import errno
import os
import resource
import socket as stdlib_socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pike
from pike.lowlevel import wait_readable

from ._resources import open_fds

HANG_GUARD = 20.0  # seconds; only ever reached if pike hangs


class Hog:
    """Holds every fd the limit allows (``/dev/null`` opens) until ``release``."""

    def __init__(self, spare: int = 0) -> None:
        self.fds: list[int] = []
        try:
            while True:
                self.fds.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                self.release()
                raise
        for _ in range(min(spare, len(self.fds))):
            os.close(self.fds.pop())

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


@contextmanager
def low_fd_limit(headroom: int = 64) -> Iterator[None]:
    """Lower the soft fd limit to ``headroom`` above the highest fd now open (cheap to fill)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, highest + 1 + headroom), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def _echo(stream: pike.SocketStream) -> None:
    while data := await stream.receive_some(65536):
        await stream.send_all(data)


def _blocking_roundtrip(sock: stdlib_socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


async def _tcp_pair() -> tuple[pike.SocketStream, pike.SocketStream]:
    (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        port = listener.socket.getsockname()[1]
        client = await pike.open_tcp_stream("127.0.0.1", port)
        server = await listener.accept()
    return client, server


def _reset(stream: pike.SocketStream) -> None:
    """Close ``stream``'s socket with SO_LINGER 0: the peer gets a RST, not a FIN."""
    stream.socket.setsockopt(
        stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    stream.socket.close()


def _check_fds(before: int, what: str) -> None:
    after = open_fds()
    if after != before:
        raise AssertionError(f"{what}: {before} fds open before, {after} after")


# --- fd exhaustion ------------------------------------------------------------------------


def accept_emfile(clients: int = 8) -> str:
    """Connections queued while accept() fails with EMFILE are all served once fds free up."""
    before = open_fds()
    figures: dict[str, int] = {}

    async def main() -> None:
        accepted = 0

        async def handler(stream: pike.SocketStream) -> None:
            nonlocal accepted
            accepted += 1
            await _echo(stream)

        listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with pike.open_nursery() as nursery:
            await nursery.start(pike.serve_listeners, handler, listeners)
            # Blocking connects complete in the kernel's backlog without a yield, so the
            # server cannot accept any of them before the fds run out.
            socks = [stdlib_socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
            try:
                with low_fd_limit():
                    hog = Hog()
                    try:
                        await pike.sleep(0.3)  # the server's accept() meets EMFILE, retries
                        figures["accepted_while_exhausted"] = accepted
                    finally:
                        hog.release()
                with pike.fail_after(HANG_GUARD):
                    for i, sock in enumerate(socks):
                        payload = f"client {i} ".encode() * 1000
                        got = await pike.to_thread.run_sync(_blocking_roundtrip, sock, payload)
                        if got != payload:
                            raise AssertionError(f"client {i}: echo differs")
                    async with await pike.open_tcp_stream("127.0.0.1", port) as late:
                        await late.send_all(b"after")
                        if await late.receive_some(5) != b"after":
                            raise AssertionError("a connection after the fault was not served")
            finally:
                for sock in socks:
                    sock.close()
            figures["accepted"] = accepted
            nursery.cancel_scope.cancel()

    pike.run(main)
    _check_fds(before, "accept_emfile")
    if figures["accepted_while_exhausted"] != 0:
        raise AssertionError("the fds were not exhausted: the server accepted meanwhile")
    if figures["accepted"] != clients + 1:
        raise AssertionError(f"served {figures['accepted']} of {clients + 1} connections")
    return (
        f"accept_emfile: {clients} connections queued during EMFILE, 0 accepted meanwhile, "
        f"{figures['accepted']} served after (incl. 1 new); fds {before} -> {open_fds()}"
    )


def socket_emfile() -> str:
    """socket(), open_tcp_stream and open_tcp_listeners fail with EMFILE, then work again."""
    before = open_fds()
    errors: list[str] = []

    async def main() -> None:
        (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]
        attempts: list[tuple[str, Callable[[], Any]]] = [
            ("socket()", lambda: _sync_socket()),
            ("open_tcp_stream", lambda: pike.open_tcp_stream("127.0.0.1", port)),
            ("open_tcp_listeners", lambda: pike.open_tcp_listeners(0, host="127.0.0.1")),
        ]
        with low_fd_limit():
            hog = Hog()
            try:
                for name, attempt in attempts:
                    try:
                        result = attempt()
                        if not isinstance(result, pike.socket.SocketType):
                            with pike.fail_after(HANG_GUARD):
                                result = await result
                    except OSError as exc:
                        errors.append(f"{name}: errno {errno.errorcode.get(exc.errno or 0)}")
                    else:
                        raise AssertionError(f"{name} succeeded with no fd left: {result!r}")
            finally:
                hog.release()
        # Everything works again once fds are free.
        async with (
            listener,
            await pike.open_tcp_stream("127.0.0.1", port) as stream,
            await listener.accept() as server,
        ):
            await stream.send_all(b"ok")
            if await server.receive_some(2) != b"ok":
                raise AssertionError("no data after recovering from EMFILE")

    pike.run(main)
    _check_fds(before, "socket_emfile")
    if len(errors) != 3 or not all("EMFILE" in e for e in errors):
        raise AssertionError(f"expected three EMFILE errors, got {errors}")
    return f"socket_emfile: {'; '.join(errors)}; then recovered; fds {before} -> {open_fds()}"


def _sync_socket() -> pike.socket.SocketType:
    return pike.socket.socket()


async def _tiny() -> str:
    await pike.sleep(0)
    return "ran"


def _run_anyio(fn: Callable[[], Any]) -> Any:
    import anyio

    return anyio.run(fn, backend="pike")


def startup_attempts(max_spare: int = 8, run: Callable[..., Any] = pike.run) -> list[str]:
    """With 0, 1, ... ``max_spare`` fds free, start ``pike.run``; then run again with all
    fds free. Each line: what the starved run did, fds leaked, what the next run did.

    Successive spare counts make the start-up fail at each of its fd-using steps
    (notifier, wake-up fds, signal set-up) in turn, until it has enough to succeed.
    """
    lines = []
    for spare in range(max_spare + 1):
        before = open_fds()
        with low_fd_limit():
            hog = Hog(spare=spare)
            try:
                first = run(_tiny)
            except OSError as exc:
                first = "EMFILE" if exc.errno == errno.EMFILE else repr(exc)
            except BaseException as exc:
                first = repr(exc)
            finally:
                hog.release()
        leaked = open_fds() - before
        try:
            second = run(_tiny)
        except BaseException as exc:
            second = repr(exc)
        lines.append(f"spare={spare}: {first}, leaked {leaked}, next run: {second}")
    return lines


def _startup_child(flavour: str) -> None:
    for line in startup_attempts(run=_run_anyio if flavour == "anyio" else pike.run):
        print(f"{flavour} {line}", flush=True)


def run_startup_emfile() -> str:
    """pike.run (and anyio.run on pike) fails cleanly with EMFILE at every start-up step;
    the next run works (issue 9, defect 0).

    Runs in a subprocess, in its main thread (where the signal wake-up fd is set up too):
    while defect 0 stands a failed start leaves the thread unable to run pike again,
    which must not leak into the caller's process.
    """
    import subprocess

    lines = []
    for flavour in ("pike", "anyio"):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from stress.faults import _startup_child; _startup_child({flavour!r})",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        if child.returncode != 0 or not child.stdout:
            raise AssertionError(f"start-up child failed: {child.stderr[-2000:]}")
        lines += child.stdout.splitlines()
    bad = [
        line
        for line in lines
        if not line.endswith("next run: ran")
        or "leaked 0" not in line
        or not (": EMFILE," in line or ": ran," in line)
    ]
    if bad:
        raise AssertionError("after a failed start-up: " + " | ".join(bad))
    failed = sum(": EMFILE," in line for line in lines)
    return (
        f"run_startup_emfile: pike.run and anyio.run: {failed} starved starts failed with "
        f"EMFILE (0 fds leaked), {len(lines) - failed} had enough fds; every next run worked"
    )


# --- peer faults ---------------------------------------------------------------------------


def reset_during_recv() -> str:
    """A RST while a task waits in receive_some gives it BrokenResourceError."""
    seen: list[str] = []

    async def main() -> None:
        client, server = await _tcp_pair()

        async def reader() -> None:
            try:
                data = await server.receive_some()
                seen.append(f"data {data!r}")
            except pike.BrokenResourceError as exc:
                seen.append(f"BrokenResourceError ({exc.__cause__!r})")

        with pike.fail_after(HANG_GUARD):
            async with server, pike.open_nursery() as nursery:
                nursery.start_soon(reader)
                await pike.sleep(0.05)
                _reset(client)

    before = open_fds()
    pike.run(main)
    _check_fds(before, "reset_during_recv")
    if not seen or not seen[0].startswith("BrokenResourceError"):
        raise AssertionError(f"receive_some after a reset: {seen}")
    return f"reset_during_recv: {seen[0]}"


def reset_during_send() -> str:
    """A RST while a task is blocked in send_all (peer not reading) gives BrokenResourceError."""
    seen: list[str] = []

    async def main() -> None:
        client, server = await _tcp_pair()

        async def writer() -> None:
            try:
                await server.send_all(b"x" * (32 * 1024 * 1024))
                seen.append("sent everything to a peer that never read")
            except pike.BrokenResourceError as exc:
                seen.append(f"BrokenResourceError ({exc.__cause__!r})")

        with pike.fail_after(HANG_GUARD):
            async with server, pike.open_nursery() as nursery:
                nursery.start_soon(writer)
                await pike.sleep(0.2)  # the writer fills the buffers and parks
                _reset(client)

    before = open_fds()
    pike.run(main)
    _check_fds(before, "reset_during_send")
    if not seen or not seen[0].startswith("BrokenResourceError"):
        raise AssertionError(f"send_all after a reset: {seen}")
    return f"reset_during_send: {seen[0]}"


def epipe() -> str:
    """Writing to a peer that has closed ends in BrokenResourceError, never a hang or a crash."""
    writes = 0
    cause = ""

    async def main() -> None:
        nonlocal writes, cause
        client, server = await _tcp_pair()
        await client.aclose()
        async with server:
            with pike.fail_after(HANG_GUARD):
                while True:
                    try:
                        await server.send_all(b"y" * 1024)
                    except pike.BrokenResourceError as exc:
                        cause = repr(exc.__cause__)
                        return
                    writes += 1
                    await pike.sleep(0.01)

    before = open_fds()
    pike.run(main)
    _check_fds(before, "epipe")
    if "EPIPE" not in cause and "Broken pipe" not in cause and "reset" not in cause.lower():
        raise AssertionError(f"unexpected cause {cause}")
    return f"epipe: BrokenResourceError after {writes} accepted writes (cause {cause})"


def half_close() -> str:
    """After send_eof the peer sees EOF yet can still answer; the answer arrives whole."""
    request = b"question " * 10_000
    answer_size = 0

    async def main() -> None:
        nonlocal answer_size
        client, server = await _tcp_pair()
        async with client, server:
            with pike.fail_after(HANG_GUARD):
                await client.send_all(request)
                await client.send_eof()
                got = b""
                while chunk := await server.receive_some(65536):
                    got += chunk
                if got != request:
                    raise AssertionError("the request arrived damaged")
                await server.send_all(got[::-1])
                await server.send_eof()
                answer = b""
                while chunk := await client.receive_some(65536):
                    answer += chunk
                if answer != request[::-1]:
                    raise AssertionError("the answer after the half-close arrived damaged")
                answer_size = len(answer)

    before = open_fds()
    pike.run(main)
    _check_fds(before, "half_close")
    return f"half_close: {len(request)} bytes up, EOF, {answer_size} bytes back, EOF"


def close_while_blocked() -> str:
    """aclose() while another task waits in receive/accept/send: that task gets
    ClosedResourceError at once, not a hang."""
    seen: dict[str, str] = {}

    async def blocked(name: str, op: Callable[[], Any]) -> None:
        try:
            await op()
            seen[name] = "returned"
        except pike.ClosedResourceError:
            seen[name] = "ClosedResourceError"
        except Exception as exc:
            seen[name] = repr(exc)

    async def main() -> None:
        # Separate connections, so that one operation cannot satisfy another.
        client1, server1 = await _tcp_pair()
        client2, server2 = await _tcp_pair()
        (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
        with pike.fail_after(HANG_GUARD):
            async with client1, server1, client2, server2, pike.open_nursery() as nursery:
                nursery.start_soon(blocked, "receive_some", server1.receive_some)
                nursery.start_soon(blocked, "accept", listener.accept)
                nursery.start_soon(blocked, "send_all", lambda: client2.send_all(b"z" * 2**25))
                await pike.sleep(0.2)  # all three are parked by now
                await server1.aclose()
                await listener.aclose()
                await client2.aclose()

    before = open_fds()
    pike.run(main)
    _check_fds(before, "close_while_blocked")
    if set(seen.values()) != {"ClosedResourceError"} or len(seen) != 3:
        raise AssertionError(f"blocked tasks after close: {seen}")
    return "close_while_blocked: receive_some, accept, send_all each got ClosedResourceError"


def fd_reuse() -> str:
    """A registered socket closed behind pike's back; a pipe reusing its fd number must
    still be waitable (issue 9, defect 1)."""
    outcome: list[str] = []

    async def main() -> None:
        std_a, std_b = stdlib_socket.socketpair()
        a = pike.socket.from_stdlib_socket(std_a)
        with pike.socket.from_stdlib_socket(std_b) as b:
            async with pike.open_nursery() as nursery:
                nursery.start_soon(a.recv, 1)  # parks once: the fd is now registered
                await pike.sleep(0.05)
                await b.send(b"x")
            number = a.fileno()
            std_a.close()  # the user's own stdlib object: pike is not told
            r, w = os.pipe()
            try:
                if r != number:
                    outcome.append(f"fd number not reused ({number} -> {r}); inconclusive")
                    return
                os.write(w, b"y")
                with pike.move_on_after(HANG_GUARD) as scope:
                    await wait_readable(r)
                outcome.append("hang" if scope.cancelled_caught else "woke")
            except OSError as exc:
                outcome.append(repr(exc))
            finally:
                os.close(r)
                os.close(w)

    pike.run(main)
    if outcome != ["woke"]:
        raise AssertionError(f"wait_readable on the reused fd: {outcome}")
    return "fd_reuse: wait_readable on a pipe reusing a stale registered fd number woke"


def wait_readable_files(notifier: str | None = None) -> str:
    """wait_readable on pipes (each waiter wakes when and only when its pipe is written),
    on a regular file (epoll: EPERM like trio; poll: ready at once), and a second waiter
    on the same fd (BusyResourceError)."""
    woke: list[int] = []
    regular = ""
    busy = ""
    pipes = [os.pipe() for _ in range(8)]

    async def main() -> None:
        nonlocal regular, busy

        async def waiter(i: int) -> None:
            await wait_readable(pipes[i][0])
            woke.append(i)

        with pike.fail_after(HANG_GUARD):
            async with pike.open_nursery() as nursery:
                for i in range(len(pipes)):
                    nursery.start_soon(waiter, i)
                await pike.sleep(0.05)
                for i in reversed(range(len(pipes))):
                    os.write(pipes[i][1], b"!")
                    while len(woke) < len(pipes) - i:
                        await pike.sleep(0.001)
            with tempfile.TemporaryFile() as f:
                try:
                    await wait_readable(f.fileno())
                    regular = "ready"
                except OSError as exc:
                    regular = f"{type(exc).__name__} errno {errno.errorcode.get(exc.errno or 0)}"
            r = pipes[0][0]
            os.read(r, 1)
            try:
                async with pike.open_nursery() as nursery:
                    nursery.start_soon(wait_readable, r)
                    await pike.sleep(0.05)
                    try:
                        await wait_readable(r)
                    except pike.BusyResourceError:
                        busy = "BusyResourceError"
                    os.write(pipes[0][1], b"!")
            except BaseException as exc:
                busy = repr(exc)

    before = open_fds()
    try:
        if notifier is None:
            pike.run(main)
        else:
            pike.run(main, notifier=notifier)
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)
    _check_fds(before - 2 * len(pipes), "wait_readable_files")
    if woke != list(reversed(range(len(pipes)))):
        raise AssertionError(f"pipe waiters woke in the order {woke}")
    if busy != "BusyResourceError":
        raise AssertionError(f"a second waiter on the same fd: {busy}")
    if regular not in ("ready", "PermissionError errno EPERM"):
        raise AssertionError(f"wait_readable on a regular file: {regular}")
    return (
        f"wait_readable_files[{notifier or 'default'}]: {len(pipes)} pipe waiters woke in "
        f"write order; regular file: {regular}; second waiter: {busy}"
    )


SCENARIOS: dict[str, Callable[[], str]] = {
    "accept_emfile": accept_emfile,
    "socket_emfile": socket_emfile,
    "run_startup_emfile": run_startup_emfile,
    "reset_during_recv": reset_during_recv,
    "reset_during_send": reset_during_send,
    "epipe": epipe,
    "half_close": half_close,
    "close_while_blocked": close_while_blocked,
    "fd_reuse": fd_reuse,
    "wait_readable_files": wait_readable_files,
    "wait_readable_files_poll": lambda: wait_readable_files("poll"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress faults")
    parser.add_argument("--long", action="store_true", help="repeat every scenario 20 times")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    args = parser.parse_args(argv)
    names = args.names or list(SCENARIOS)
    rounds = 20 if args.long else 1
    failed = 0
    started = time.monotonic()
    for name in names:
        for _ in range(rounds):
            try:
                line = SCENARIOS[name]()
            except Exception as exc:
                print(f"FAIL {name}: {exc!r}", flush=True)
                failed += 1
                break
        else:
            print(f"{line} (x{rounds})", flush=True)
    print(
        f"faults: {len(names) - failed}/{len(names)} scenarios held; "
        f"{time.monotonic() - started:.1f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
