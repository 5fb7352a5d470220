"""anyio's Process on ``pike.lowlevel.open_process``.

pike's pipes are ``FdStream``s with trio's stream vocabulary (``receive_some``,
``send_all``); anyio wants ``receive``/``send`` with ``EndOfStream`` and
anyio's exception classes, so each pipe gets a thin stream object.
"""

from __future__ import annotations

import os
from signal import Signals
from typing import IO, Any, NoReturn

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream
from anyio.abc import Process as _AbstractProcess

import pike
import pike.lowlevel


def _as_anyio_error(exc: pike.ClosedResourceError | pike.BrokenResourceError) -> NoReturn:
    """Re-raise a pike pipe error as anyio's class of the same name, cause kept."""
    anyio_class = (
        anyio.ClosedResourceError
        if isinstance(exc, pike.ClosedResourceError)
        else anyio.BrokenResourceError
    )
    raise anyio_class from exc.__cause__


class _ReceivePipe(ByteReceiveStream):
    """A child's stdout/stderr: pike's ``FdStream`` with anyio's ``receive``."""

    __slots__ = ("_stream",)

    def __init__(self, stream: pike.lowlevel.FdStream) -> None:
        self._stream = stream

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            data: bytes = await self._stream.receive_some(max_bytes)
        except (pike.ClosedResourceError, pike.BrokenResourceError) as exc:
            _as_anyio_error(exc)
        except ValueError:
            raise ValueError("max_bytes must be a positive integer") from None
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        await self._stream.aclose()


class _SendPipe(ByteSendStream):
    """A child's stdin: pike's ``FdStream`` with anyio's ``send``."""

    __slots__ = ("_stream",)

    def __init__(self, stream: pike.lowlevel.FdStream) -> None:
        self._stream = stream

    async def send(self, item: bytes) -> None:
        try:
            await self._stream.send_all(item)
        except (pike.ClosedResourceError, pike.BrokenResourceError) as exc:
            _as_anyio_error(exc)

    async def aclose(self) -> None:
        await self._stream.aclose()


class Process(_AbstractProcess):
    def __init__(self, process: pike.lowlevel.Process) -> None:
        self._process = process
        self._stdin = _SendPipe(process.stdin) if process.stdin is not None else None
        self._stdout = _ReceivePipe(process.stdout) if process.stdout is not None else None
        self._stderr = _ReceivePipe(process.stderr) if process.stderr is not None else None

    async def aclose(self) -> None:
        # pike's Process already has anyio's contract: close the pipes (they are
        # the FdStreams our wrappers hold), wait, and kill and still wait if cancelled.
        await self._process.aclose()

    async def wait(self) -> int:
        return await self._process.wait()

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()

    def send_signal(self, signal: Signals) -> None:
        self._process.send_signal(signal)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def stdin(self) -> ByteSendStream | None:
        return self._stdin

    @property
    def stdout(self) -> ByteReceiveStream | None:
        return self._stdout

    @property
    def stderr(self) -> ByteReceiveStream | None:
        return self._stderr


def _argv_and_shell(command: Any) -> tuple[str | list[str], bool]:
    """anyio's two command forms: one str/bytes/path is a shell command line,
    any other iterable an argv; ``os.fsdecode`` turns each part into ``str``."""
    if isinstance(command, (str, bytes, os.PathLike)):
        return os.fsdecode(command), True
    return [os.fsdecode(arg) for arg in command], False


async def open_process(
    command: Any,
    *,
    stdin: int | IO[Any] | None,
    stdout: int | IO[Any] | None,
    stderr: int | IO[Any] | None,
    **kwargs: Any,
) -> Process:
    argv, shell = _argv_and_shell(command)
    process = await pike.lowlevel.open_process(
        argv, stdin=stdin, stdout=stdout, stderr=stderr, shell=shell, **kwargs
    )
    return Process(process)


async def _reap_pool_at_shutdown(workers: set[_AbstractProcess]) -> None:
    """Wait for the run to end, then kill every worker still alive and reap them all.

    A system task lives until ``main`` returns and pike cancels the system
    nursery; the ``finally`` is that moment. The workers are killed first and
    then closed concurrently in a shielded nursery, so shutdown waits for the
    slowest worker once rather than for each in turn.
    """
    try:
        await pike.sleep_forever()
    finally:
        survivors = list(workers)  # aclose() may make anyio drop a worker from the set
        for process in survivors:
            if process.returncode is None:
                process.kill()
        with pike.CancelScope(shield=True):
            async with pike.open_nursery() as nursery:
                for process in survivors:
                    nursery.start_soon(process.aclose)


def setup_process_pool_exit_at_shutdown(workers: set[_AbstractProcess]) -> None:
    pike.lowlevel.spawn_system_task(_reap_pool_at_shutdown, workers)


__all__ = ["Process", "open_process", "setup_process_pool_exit_at_shutdown"]
