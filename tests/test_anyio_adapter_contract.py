"""pike_anyio's adapter functions against anyio's contract, compared with asyncio where it matters.

Covers the functions issue 11 had rewritten in pike's own design: out-of-range
ports, ``connect_tcp`` on ``open_tcp_stream``, descriptor passing with clear
errors, the task-tree walk behind ``get_running_tasks``, async generator
fixtures and the process-pool reaper.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import pytest
from anyio._core._eventloop import get_async_backend

import pike
import pike_anyio._process
from pike_anyio._testing import TestRunner

BACKENDS = ["asyncio", "pike"]


def _outcome_type(backend: str, call: Any) -> type[BaseException] | None:
    async def main() -> type[BaseException] | None:
        try:
            result = await call(get_async_backend())
        except Exception as exc:
            return type(exc)
        await result.aclose()
        return None

    outcome: type[BaseException] | None = anyio.run(main, backend=backend)
    return outcome


UDP_CALLS = {
    "udp-local": lambda be: be.create_udp_socket(
        socket.AF_INET, ("127.0.0.1", 70000), None, False
    ),
    "udp-remote": lambda be: be.create_udp_socket(
        socket.AF_INET, None, ("127.0.0.1", 70000), False
    ),
    "udp-negative": lambda be: be.create_udp_socket(socket.AF_INET, ("127.0.0.1", -1), None, False),
    "tcp-remote": lambda be: be.connect_tcp("127.0.0.1", 70000, None),
}


@pytest.mark.parametrize("name", sorted(UDP_CALLS))
def test_out_of_range_port_is_overflow_error_like_asyncio(name: str) -> None:
    # pike's bind/connect resolve through getaddrinfo, which wraps 70000 to 4464;
    # the adapter must refuse it as the stdlib socket (and so asyncio) does.
    outcomes = {backend: _outcome_type(backend, UDP_CALLS[name]) for backend in BACKENDS}
    assert outcomes == {"asyncio": OverflowError, "pike": OverflowError}


def test_out_of_range_port_message() -> None:
    async def main() -> None:
        with pytest.raises(OverflowError, match=r"bind\(\): port must be 0-65535"):
            await get_async_backend().create_udp_socket(
                socket.AF_INET, ("127.0.0.1", 70000), None, False
            )

    anyio.run(main, backend="pike")


def test_connect_tcp_local_host_and_refused() -> None:
    async def main() -> None:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            async with await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.1") as s:
                assert s.extra(anyio.abc.SocketAttribute.local_address)[0] == "127.0.0.1"
                nodelay = s.extra(anyio.abc.SocketAttribute.raw_socket).getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                assert nodelay
        with pytest.raises(ValueError, match="needs an IP address"):
            await get_async_backend().connect_tcp("localhost", port, None)
        # The listener is closed now: a refused connection is a ConnectionRefusedError.
        with pytest.raises(OSError) as info:
            await anyio.connect_tcp("127.0.0.1", port)
        # anyio chains the one address's error (a group when it tried several).
        assert info.match("All connection attempts failed")
        assert isinstance(info.value.__cause__, ConnectionRefusedError)

    anyio.run(main, backend="pike")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts fds in /proc")
def test_receive_fds_roundtrip_and_excess_is_an_error_without_leaks() -> None:
    async def main() -> None:
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        be = get_async_backend()
        a = await be.wrap_unix_stream_socket(left)
        b = await be.wrap_unix_stream_socket(right)
        with open(os.devnull) as f1, open(os.devnull) as f2:
            await a.send_fds(b"one", [f1])
            message, fds = await b.receive_fds(10, 1)
            assert message == b"one" and len(fds) == 1
            assert os.path.samestat(os.fstat(fds[0]), os.fstat(f1.fileno()))
            os.close(fds[0])

            before = _open_fds()
            await a.send_fds(b"two", [f1, f2])
            with pytest.raises(RuntimeError, match="maxfds=1"):
                await b.receive_fds(10, 1)
            assert _open_fds() == before  # the one descriptor that fitted was closed
        with pytest.raises(ValueError):
            await b.receive_fds(10, 0)
        await a.aclose()
        await b.aclose()

    anyio.run(main, backend="pike")


def test_get_running_tasks_is_the_whole_tree() -> None:
    async def main() -> None:
        started = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def child() -> None:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(anyio.sleep_forever, name="grandchild")
                    started.set()

            tg.start_soon(child, name="child")
            await started.wait()
            infos = anyio.get_running_tasks()
            by_id = {info.id: info for info in infos}
            assert len(by_id) == len(infos)  # no task twice
            names = {info.name for info in infos}
            assert {"child", "grandchild"} <= names
            me = anyio.get_current_task()
            assert me.id in by_id
            roots = [info for info in infos if info.parent_id is None]
            assert len(roots) == 1
            # Every other task's parent is in the list: the walk missed no level.
            assert all(info.parent_id in by_id for info in infos if info is not roots[0])
            grandchild = next(info for info in infos if info.name == "grandchild")
            parent = by_id[grandchild.parent_id]  # type: ignore[index]  # checked above
            assert parent.name == "child"
            tg.cancel_scope.cancel()

    anyio.run(main, backend="pike")


def test_asyncgen_fixture_runs_teardown_and_rejects_a_second_yield() -> None:
    log: list[str] = []

    async def good() -> AsyncGenerator[int, None]:
        log.append("setup")
        yield 1
        log.append("teardown")

    async def twice() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            log.append("closed")

    with TestRunner() as runner:
        gen = iter(runner.run_asyncgen_fixture(good, {}))
        assert next(gen) == 1
        assert log == ["setup"]
        with pytest.raises(StopIteration):
            next(gen)
        assert log == ["setup", "teardown"]

        gen = iter(runner.run_asyncgen_fixture(twice, {}))
        assert next(gen) == 1
        with pytest.raises(RuntimeError, match="did not stop"):
            next(gen)
        assert log[-1] == "closed"


def test_process_pool_reaper_kills_live_workers_at_shutdown() -> None:
    seen: dict[str, Any] = {}

    async def main() -> None:
        worker = await anyio.open_process([sys.executable, "-c", "import time; time.sleep(60)"])
        workers: set[Any] = {worker}
        pike_anyio._process.setup_process_pool_exit_at_shutdown(workers)
        seen["worker"] = worker
        await pike.sleep(0)

    anyio.run(main, backend="pike")
    # The run returned, so the reaper ran: the worker was killed and waited for.
    assert seen["worker"].returncode is not None
    assert seen["worker"].returncode < 0



SLEEP_DELAYS: dict[str, Any] = {
    "zero-int": 0,
    "zero-float": 0.0,
    "negative-zero": -0.0,
    "false": False,
    "tiny": 1e-9,
    "negative": -1,
    "nan": float("nan"),
    "string": "0",
}


@pytest.mark.parametrize("name", sorted(SLEEP_DELAYS))
def test_sleep_delay_is_a_cancellable_yield_or_an_error_like_asyncio(name: str) -> None:
    # The backend's sleep hands anyio pike's checkpoint trap itself for a zero
    # delay; every accepted delay must still let other tasks run and see a
    # cancelled scope, and every refused one fail with asyncio's error type.
    delay = SLEEP_DELAYS[name]

    async def main() -> tuple[str, bool, bool]:
        try:
            await anyio.sleep(delay)
        except Exception as exc:
            return type(exc).__name__, False, False
        ran = False

        async def other() -> None:
            nonlocal ran
            ran = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await anyio.sleep(delay)
            other_ran = ran
        with anyio.CancelScope() as scope:
            scope.cancel()
            await anyio.sleep(delay)
        return "ok", other_ran, scope.cancelled_caught

    asyncio_result = anyio.run(main, backend="asyncio")
    pike_result = anyio.run(main, backend="pike")
    if name in ("negative", "nan") and asyncio_result[0] == "ok":
        # anyio < 4.10 passes these on unchecked: asyncio sleeps 0, pike refuses.
        assert pike_result == ("ValueError", False, False)
    else:
        assert pike_result == asyncio_result
    assert pike_result[0] != "ok" or pike_result[1:] == (True, True)
