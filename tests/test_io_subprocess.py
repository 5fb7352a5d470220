"""Subprocesses: pipes, exit codes, kill on cancel, on every notifier."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from _io_support import FdLeakCheck, Runner, run

import pike
from pike.lowlevel import open_process

__all__ = ["run"]

PY = sys.executable
CAT = [PY, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"]
SLEEP = [PY, "-c", "import time; time.sleep(30)"]


def test_echo_through_pipes(run: Runner) -> None:
    async def main() -> None:
        proc = await open_process(CAT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.returncode is None
        payload = os.urandom(200_000)  # more than a pipe buffer
        received = bytearray()

        async def reader() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.receive_some():
                received.extend(chunk)

        async with pike.open_nursery() as nursery:
            nursery.start_soon(reader)
            await proc.stdin.send_all(payload)
            await proc.stdin.aclose()
        assert await proc.wait() == 0
        assert bytes(received) == payload
        await proc.aclose()
        assert "exited with status 0" in repr(proc)

    with FdLeakCheck():
        run(main)


def test_run_process_capture_and_exit_codes(run: Runner) -> None:
    async def main() -> None:
        result = await pike.run_process(CAT, stdin=b"hello", capture_stdout=True)
        assert result.returncode == 0
        assert result.stdout == b"hello"
        assert result.stderr is None

        code = [PY, "-c", "import sys; sys.stderr.write('oops'); sys.exit(3)"]
        with pytest.raises(subprocess.CalledProcessError) as info:
            await pike.run_process(code, capture_stderr=True)
        assert info.value.returncode == 3
        assert info.value.stderr == b"oops"

        result = await pike.run_process(code, check=False, stderr=subprocess.DEVNULL)
        assert result.returncode == 3

        result = await pike.run_process("echo shell", shell=True, capture_stdout=True)
        assert result.stdout == b"shell\n"

        result = await pike.run_process(
            [PY, "-c", "import sys; print('merged', file=sys.stderr)"],
            capture_stdout=True,
            stderr=subprocess.STDOUT,
        )
        assert result.stdout.strip() == b"merged"

    with FdLeakCheck():
        run(main)


def test_run_process_cancel_kills_child(run: Runner) -> None:
    async def main() -> None:
        async with pike.open_nursery() as nursery:
            proc = await nursery.start(pike.run_process, SLEEP)
            assert isinstance(proc, pike.lowlevel.Process)
            await pike.sleep(0.05)
            nursery.cancel_scope.cancel()
        # run_process waited for the child before letting the cancellation out.
        assert proc.returncode == -signal.SIGKILL

        terminated = []

        async def terminate(p: pike.lowlevel.Process) -> None:
            terminated.append(p.pid)
            p.terminate()

        with pike.move_on_after(0.05):
            await pike.run_process(SLEEP, deliver_cancel=terminate)
        assert terminated

    with FdLeakCheck():
        run(main)


def test_wait_kill_signal_and_concurrent_waiters(run: Runner) -> None:
    async def main() -> None:
        proc = await open_process(SLEEP)
        results = []

        async def waiter() -> None:
            results.append(await proc.wait())

        async with pike.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(waiter)
            await pike.sleep(0.02)
            with pike.move_on_after(0.01):
                await proc.wait()  # a cancelled waiter does not disturb the rest
            proc.send_signal(signal.SIGTERM)
        assert results == [-signal.SIGTERM] * 3
        assert proc.poll() == -signal.SIGTERM
        proc.kill()  # after exit: harmless
        await proc.aclose()

    with FdLeakCheck():
        run(main)


def test_aclose_cancelled_kills(run: Runner) -> None:
    async def main() -> None:
        proc = await open_process(SLEEP, stdout=subprocess.PIPE)
        with pike.move_on_after(0.05):
            await proc.aclose()
        assert proc.returncode == -signal.SIGKILL

    with FdLeakCheck():
        run(main)


def test_waiter_thread_fallback(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    import pike._subprocess as sp

    monkeypatch.setattr(sp, "_pidfd_open", lambda pid: None)

    async def main() -> None:
        result = await pike.run_process([PY, "-c", "raise SystemExit(7)"], check=False)
        assert result.returncode == 7
        with pike.move_on_after(0.05):
            await pike.run_process(SLEEP)

    with FdLeakCheck():
        run(main)


def test_bad_arguments(run: Runner) -> None:
    async def main() -> None:
        with pytest.raises(TypeError):
            await open_process("ls -l")
        with pytest.raises(TypeError):
            await open_process(["ls"], shell=True)
        with pytest.raises(TypeError):
            await open_process(["ls"], text=True)
        with pytest.raises(TypeError):
            await pike.run_process(["cat"], stdin="text")
        with pytest.raises(ValueError):
            await pike.run_process(["true"], capture_stdout=True, stdout=subprocess.DEVNULL)
        with pytest.raises(FileNotFoundError):
            await open_process(["/nonexistent/program"], stdout=subprocess.PIPE)

    with FdLeakCheck():
        run(main)


def test_fdstream_errors(run: Runner) -> None:
    async def main() -> None:
        r, w = os.pipe()
        reader, writer = pike.lowlevel.FdStream(r), pike.lowlevel.FdStream(w)
        await writer.send_all(b"x")
        assert await reader.receive_some(0x10) == b"x"
        with pytest.raises(ValueError):
            await reader.receive_some(0)
        async with pike.open_nursery() as nursery:

            async def blocked() -> None:
                with pytest.raises(pike.ClosedResourceError):
                    await reader.receive_some()

            nursery.start_soon(blocked)
            await pike.sleep(0.01)
            with pytest.raises(pike.BusyResourceError):
                await reader.receive_some()
            await reader.aclose()
        with pytest.raises(pike.BrokenResourceError):
            await writer.send_all(b"nobody reads")
        await writer.aclose()
        with pytest.raises(pike.ClosedResourceError):
            await writer.send_all(b"closed")

    with FdLeakCheck():
        run(main)
