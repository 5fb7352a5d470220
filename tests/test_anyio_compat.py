"""pike_anyio fits the user's stack: newer anyio releases, the backend module's
names, and httpx/httpcore with no user code.

Most tests run a fresh interpreter (this worktree's ``src`` first on the path):
what matters is what happens at start-up and on the first import, which a warm
test process cannot show.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        timeout=180, env=env, cwd="/",
    )


def test_newer_anyio_with_an_unknown_abstract_method() -> None:
    """A backend method pike_anyio lacks: the backend still instantiates and runs;
    calling that method raises a clear error naming it and the anyio version."""
    proc = _run(
        """
        import abc, importlib.metadata, anyio, anyio.abc
        from anyio._core._eventloop import get_async_backend

        async def frobnicate(cls, fd): ...
        def frob_sync(cls): ...
        anyio.abc.AsyncBackend.frobnicate = classmethod(abc.abstractmethod(frobnicate))
        anyio.abc.AsyncBackend.frob_sync = classmethod(abc.abstractmethod(frob_sync))
        abc.update_abstractmethods(anyio.abc.AsyncBackend)

        async def main():
            backend = get_async_backend()
            backend()  # no "Can't instantiate abstract class"
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.sleep, 0)
            for call in (lambda: backend.frob_sync(),):
                try:
                    call()
                except NotImplementedError as exc:
                    print(type(exc).__name__, exc)
            try:
                await backend.frobnicate(3)
            except NotImplementedError as exc:
                print(type(exc).__name__, exc)
            return "ran"

        print(anyio.run(main, backend="pike"))
        import pike_anyio._backend as b
        print(sorted(b.STUBBED_METHODS), importlib.metadata.version("anyio"))
        """
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    version = lines[-1].split()[-1]
    assert lines[0].startswith("MissingBackendMethodError anyio ")
    assert "AsyncBackend.frob_sync()" in lines[0] and version in lines[0]
    assert "AsyncBackend.frobnicate()" in lines[1] and version in lines[1]
    assert lines[2] == "ran"
    assert lines[3].startswith("['frob_sync', 'frobnicate']")


def test_tested_anyio_needs_no_stubs() -> None:
    import pike_anyio._backend

    assert frozenset() == pike_anyio._backend.STUBBED_METHODS


def test_backend_module_offers_the_names_anyio_backends_do() -> None:
    proc = _run(
        """
        import sys, anyio
        import anyio._backends._trio as trio_mod, anyio._backends._asyncio as aio_mod
        from anyio._core._eventloop import get_async_backend

        def public_classes(mod):
            return {n for n, v in vars(mod).items() if not n.startswith("_")
                    and isinstance(v, type) and v.__module__ == mod.__name__}

        shared = (public_classes(trio_mod) & public_classes(aio_mod)) | {"backend_class"}

        async def main():
            mod = sys.modules[get_async_backend().__module__]
            missing = sorted(n for n in shared if not hasattr(mod, n))
            async with mod.TaskGroup() as tg:
                tg.start_soon(anyio.sleep, 0)
            event = mod.Event()
            event.set()
            with mod.CancelScope() as scope:
                scope.cancel()
                await anyio.sleep(1)
            return mod.__name__, missing, event.is_set(), scope.cancelled_caught

        print(anyio.run(main, backend="pike"))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "('anyio._backends._pike', [], True, True)"


HTTPX_NO_USER_CODE = """
    import sys
    assert not any(m.startswith(("pike", "anyio", "http")) for m in sys.modules)
    import anyio, httpx
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def events(request):
        async def body():
            for i in range(3):
                yield f"data: {i}\\n\\n"
                await anyio.sleep(0)
        return StreamingResponse(body(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/sse", events)])

    async def serve_one(stream):
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 200 OK\\r\\ncontent-length: 5\\r\\n"
                              b"connection: close\\r\\n\\r\\nhello")

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            async with client.stream("GET", "/sse") as response:
                lines = [line async for line in response.aiter_lines() if line]
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            async with anyio.create_task_group() as tg:
                tg.start_soon(listener.serve, serve_one)
                async with httpx.AsyncClient() as client:
                    reply = await client.get(f"http://127.0.0.1:{port}/")
                tg.cancel_scope.cancel()
        return lines, reply.text

    print(anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "pike"))
    assert not any(m == "pike_anyio.httpcore_support" for m in sys.modules)
"""


def test_httpx_and_asgi_streaming_with_no_user_code() -> None:
    pytest.importorskip("httpx", reason="httpx is a test dependency of this check")
    pytest.importorskip("starlette", reason="starlette is a test dependency of this check")
    proc = _run(HTTPX_NO_USER_CODE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(['data: 0', 'data: 1', 'data: 2'], 'hello')"


def test_patches_change_nothing_under_asyncio_and_trio() -> None:
    pytest.importorskip("httpx")
    proc = _run(
        """
        import anyio, httpx._transports.asgi as asgi, httpcore._synchronization as sync
        import _pike_anyio_hook as hook
        assert getattr(sync.current_async_library, hook.WRAPPED_ATTR)
        assert getattr(asgi.create_event, hook.WRAPPED_ATTR)

        import asyncio, trio

        async def main():
            event = asgi.create_event()
            kinds = {"asyncio": asyncio.Event, "trio": trio.Event, "anyio": anyio.Event}
            kind = [label for label, k in kinds.items() if isinstance(event, k)]
            return sync.current_async_library(), kind

        for backend in ("asyncio", "trio", "pike"):
            print(anyio.run(main, backend=backend))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "('asyncio', ['asyncio'])",
        "('trio', ['trio'])",
        "('asyncio', ['anyio'])",
    ]


def test_unknown_shape_is_left_alone_with_one_warning() -> None:
    import _pike_anyio_hook as hook

    module = types.ModuleType("httpcore._synchronization")

    def current_async_library(strict: bool = True) -> str:  # a future, different shape
        return "asyncio"

    # ModuleType declares no attributes to assign; reading goes through its __getattr__.
    module.current_async_library = current_async_library  # type: ignore[attr-defined]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hook.patch_sniffio_environment(module) is False
    assert module.current_async_library is current_async_library
    assert len(caught) == 1
    assert "httpcore._synchronization.current_async_library" in str(caught[0].message)


def test_enable_without_httpcore_installed() -> None:
    proc = _run(
        """
        import sys

        for name in ("httpcore", "httpcore2", "httpx", "httpx2"):
            sys.modules[name] = None  # what an uninstalled package looks like to import
        import pike_anyio.httpcore_support as support
        for name in ("httpcore", "httpx"):
            try:
                __import__(name)
            except ModuleNotFoundError:
                pass
            else:
                raise AssertionError(name + " should look absent")
        support.enable()
        support.disable()
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_create_task_before_anyio_has_task_handles() -> None:
    from pike_anyio import _compat

    if _compat.TaskHandle is not None:
        pytest.skip("this anyio has TaskHandle (4.14+): create_task is supported here")
    import anyio

    async def child() -> None:
        raise AssertionError("never runs")

    async def main() -> str:
        coro = child()
        async with anyio.create_task_group() as tg:
            with pytest.raises(_compat.MissingBackendMethodError, match=r"anyio 4\.14"):
                # Only anyio < 4.14 runs this, and its TaskGroup type has no create_task.
                tg.create_task(coro)  # type: ignore[attr-defined,unused-ignore]  # wrong on purpose
        # closed, so no "never awaited" warning
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
        return "ok"

    assert anyio.run(main, backend="pike") == "ok"
