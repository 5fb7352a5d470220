"""Child processes: ``pike.lowlevel.open_process`` and ``pike.run_process``, trio-shaped.

Pipes are pike-owned ``os.pipe()`` pairs: the child gets one end through
``subprocess.Popen``, the parent keeps the other as a non-blocking
``FdStream``. ``Popen`` itself (fork/exec, vfork where possible) runs inline:
it takes well under a millisecond, and a worker thread would make a cancelled
spawn leave a child nobody owns.

Waiting for exit: on Linux a *pidfd* (``os.pidfd_open``) becomes readable when
the child exits, so ``wait()`` is an ordinary ``wait_readable`` on the
notifier, no thread and no SIGCHLD handler. Elsewhere (or on kernels before
5.3) a worker thread blocks in ``waitid(WNOWAIT)``, which observes the exit
without reaping it, so ``Popen.poll`` still gets the status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ._fdstream import FdStream
from ._kernel._cancel import CancelScope
from ._kernel._exceptions import ClosedResourceError
from ._kernel._nursery import TASK_STATUS_IGNORED, TaskStatus, open_nursery
from ._kernel._traps import cancel_shielded_checkpoint, checkpoint_if_cancelled
from ._lowlevel_io import current_notifier
from ._sync import Event
from ._threads import to_thread_run_sync

# Popen options that would turn the pipes into text files pike cannot drive.
_FORBIDDEN = ("universal_newlines", "text", "encoding", "errors", "bufsize")


def _pidfd_open(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None  # ENOSYS (old kernel), EPERM (seccomp), ...
    return fd


def _wait_without_reaping(pid: int) -> None:
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass  # already reaped by someone else


class Process:
    """A running child process. ``stdin``/``stdout``/``stderr`` are streams or None."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: FdStream | None,
        stdout: FdStream | None,
        stderr: FdStream | None,
    ) -> None:
        self._proc = popen
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.args: Any = popen.args
        self.pid: int = popen.pid
        self._pidfd = _pidfd_open(popen.pid)
        self._exit_watch: Event | None = None

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while it runs."""
        result = self._proc.poll()
        if result is not None:
            self._close_pidfd()
        return result

    def poll(self) -> int | None:
        return self.returncode

    def _close_pidfd(self) -> None:
        fd, self._pidfd = self._pidfd, None
        if fd is not None:
            try:
                current_notifier().notify_closing(fd)
            except RuntimeError:
                pass  # outside a run: nobody can be waiting on it
            os.close(fd)

    async def _wait_for_exit_event(self) -> None:
        if self._pidfd is not None:
            try:
                await current_notifier().wait_readable(self._pidfd)
            except ClosedResourceError:
                pass  # another task saw the exit (via returncode) and closed it
        else:
            await to_thread_run_sync(_wait_without_reaping, self.pid, abandon_on_cancel=True)

    async def wait(self) -> int:
        """Wait for the child to exit and return its returncode. A checkpoint.

        Any number of tasks may wait at once: one watches the pidfd (or the
        thread), the others wait for it to report, and if it is cancelled the
        next one takes over.
        """
        await checkpoint_if_cancelled()
        blocked = False
        while (result := self.returncode) is None:
            blocked = True
            watch = self._exit_watch
            if watch is None:
                watch = self._exit_watch = Event()
                try:
                    await self._wait_for_exit_event()
                finally:
                    self._exit_watch = None
                    watch.set()
            else:
                await watch.wait()
        if not blocked:
            await cancel_shielded_checkpoint()
        return result

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` (a no-op once the child has been reaped, so no stray pid is hit)."""
        self._proc.send_signal(sig)

    def terminate(self) -> None:
        self._proc.terminate()

    def kill(self) -> None:
        self._proc.kill()

    async def aclose(self) -> None:
        """Close the pipes and wait for the child; if cancelled, kill it and still wait."""
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        try:
            await self.wait()
        finally:
            if self._proc.returncode is None:
                self.kill()
                with CancelScope(shield=True):
                    await self.wait()

    async def __aenter__(self) -> Process:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        code = self._proc.returncode
        status = "running" if code is None else f"exited with status {code}"
        return f"<pike.lowlevel.Process {self.args!r}: {status}>"


def _check_options(command: Any, options: dict[str, Any]) -> None:
    for name in _FORBIDDEN:
        if options.get(name):
            raise TypeError(f"pike processes speak bytes; {name}= is not supported")
    if isinstance(command, (str, bytes)) and not options.get("shell"):
        if sys.platform != "win32":
            raise TypeError(
                "a command string needs shell=True; or pass a sequence of arguments, "
                "e.g. ['ls', '-l'] rather than 'ls -l'"
            )
    elif options.get("shell") and not isinstance(command, (str, bytes)):
        raise TypeError("with shell=True, the command must be a single string")


async def open_process(
    command: str | bytes | Sequence[str | bytes | os.PathLike[str]],
    *,
    stdin: int | Any | None = None,
    stdout: int | Any | None = None,
    stderr: int | Any | None = None,
    **options: Any,
) -> Process:
    """Start a child process; ``subprocess.PIPE`` makes that stream an ``FdStream``.

    The other ``subprocess.Popen`` options (``cwd``, ``env``, ``shell`` ...)
    pass through. The caller owns the result: ``aclose()`` it, or use
    ``run_process``.
    """
    _check_options(command, options)
    await checkpoint_if_cancelled()
    parent_ends: list[int] = []
    child_ends: list[int] = []

    def pipe(child_reads: bool) -> tuple[int, int]:
        r, w = os.pipe()
        parent, child = (w, r) if child_reads else (r, w)
        parent_ends.append(parent)
        child_ends.append(child)
        return parent, child

    try:
        parent_in = parent_out = parent_err = None
        if stdin == subprocess.PIPE:
            parent_in, stdin = pipe(child_reads=True)
        if stdout == subprocess.PIPE:
            parent_out, stdout = pipe(child_reads=False)
        if stderr == subprocess.PIPE:
            parent_err, stderr = pipe(child_reads=False)
        popen = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr, **options)
    except BaseException:
        for fd in parent_ends:
            os.close(fd)
        raise
    finally:
        for fd in child_ends:
            os.close(fd)
    process = Process(
        popen,
        None if parent_in is None else FdStream(parent_in),
        None if parent_out is None else FdStream(parent_out),
        None if parent_err is None else FdStream(parent_err),
    )
    await cancel_shielded_checkpoint()
    return process


async def _kill(process: Process) -> None:
    process.kill()


async def _read_all(stream: FdStream, chunks: list[bytes]) -> None:
    while chunk := await stream.receive_some():
        chunks.append(chunk)


async def _feed(stream: FdStream, data: bytes | bytearray | memoryview) -> None:
    try:
        await stream.send_all(data)
    except Exception:
        pass  # the child exited without reading everything: not our error
    finally:
        stream.close()


async def run_process(
    command: str | bytes | Sequence[str | bytes | os.PathLike[str]],
    *,
    stdin: bytes | bytearray | memoryview | int | Any | None = b"",
    capture_stdout: bool = False,
    capture_stderr: bool = False,
    check: bool = True,
    deliver_cancel: Callable[[Process], Awaitable[object]] | None = None,
    task_status: TaskStatus[Any] = TASK_STATUS_IGNORED,
    **options: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to completion; returns a ``subprocess.CompletedProcess``.

    ``stdin`` bytes are fed to the child (``b""``: an immediately closed
    stdin; ``None``: inherit ours). ``capture_stdout``/``capture_stderr``
    collect the output (otherwise pass ``stdout=``/``stderr=`` as for Popen).
    A non-zero exit raises ``CalledProcessError`` when ``check`` is true.

    If the call is cancelled, ``deliver_cancel(process)`` runs (default:
    ``kill()``), and ``run_process`` waits for the child to exit before the
    cancellation propagates, so no child outlives it. With ``nursery.start``
    the started value is the ``Process``.
    """
    feed: bytes | bytearray | memoryview | None = None
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        feed = stdin
        stdin = subprocess.PIPE
    elif isinstance(stdin, str):
        raise TypeError("stdin must be bytes (or a file/fd/None), not str")
    if capture_stdout:
        if "stdout" in options:
            raise ValueError("pass capture_stdout=True or stdout=..., not both")
        options["stdout"] = subprocess.PIPE
    if capture_stderr:
        if "stderr" in options:
            raise ValueError("pass capture_stderr=True or stderr=..., not both")
        options["stderr"] = subprocess.PIPE
    if deliver_cancel is None:
        deliver_cancel = _kill
    process = await open_process(command, stdin=stdin, **options)
    stdout_chunks: list[bytes] = []
    stderr_chunks: list[bytes] = []
    try:
        async with open_nursery() as nursery:
            if feed is not None and process.stdin is not None:
                nursery.start_soon(_feed, process.stdin, feed)
            if capture_stdout and process.stdout is not None:
                nursery.start_soon(_read_all, process.stdout, stdout_chunks)
            if capture_stderr and process.stderr is not None:
                nursery.start_soon(_read_all, process.stderr, stderr_chunks)
            task_status.started(process)
            await process.wait()
    except BaseException:
        # Cancelled, or a pipe task failed: the child must not outlive the call.
        with CancelScope(shield=True):
            if process.returncode is None:
                await deliver_cancel(process)
                await process.wait()
        raise
    finally:
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    stdout_bytes = b"".join(stdout_chunks) if capture_stdout else None
    stderr_bytes = b"".join(stderr_chunks) if capture_stderr else None
    returncode = process.returncode
    assert returncode is not None
    if check and returncode:
        raise subprocess.CalledProcessError(
            returncode, process.args, output=stdout_bytes, stderr=stderr_bytes
        )
    return subprocess.CompletedProcess(process.args, returncode, stdout_bytes, stderr_bytes)
