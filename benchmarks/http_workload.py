"""HTTP workload: a tiny ASGI app served by anycorn, loaded from another process.

anycorn is an anyio-based ASGI server, so the server side runs on whichever
backend the worker was started with (``anycorn.serve`` inside ``anyio.run``);
that is the thing measured.  The load comes from a separate process — ``wrk``
when installed, otherwise :mod:`benchmarks.loadgen` — so the client does not
share the event loop (or the GIL) with the server under test.  The client
process is started from a worker thread (``anyio.to_thread.run_sync``), which
only waits; the server's event loop does all the work.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio

PACKAGE_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = PACKAGE_DIR / "wrk_report.lua"
BODY = b"Hello, world!"
_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


@dataclass
class HttpSettings:
    """How the load is generated; set by the worker from its command line."""

    client: str = "auto"  # "auto", "wrk" or "python"
    connections: int = 50
    max_requests: int | None = None  # python client only: stop after this many


SETTINGS = HttpSettings()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Hello-world ASGI app: the smallest realistic request/response cycle."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def is_known_uvloop_eof_error(exc: BaseException) -> bool:
    """The one upstream failure the HTTP workload tolerates, matched narrowly.

    When a client closes its connection, anycorn calls ``send_eof()``; anyio's
    asyncio backend calls ``transport.write_eof()`` and suppresses only
    ``OSError``, but uvloop raises ``RuntimeError("unable to perform operation
    on <TCPTransport closed=True ...>; the handler is closed")`` for a transport
    it already closed (MagicStack/uvloop#506; asyncio's own transports ignore
    it).  The crash happens as the load generator disconnects, after the
    requests were counted, and it is neither pike's nor ours, so it is recorded
    in the result (``known_upstream_errors``) instead of failing the run.
    Anything else still fails the workload.
    """
    if not isinstance(exc, RuntimeError) or "the handler is closed" not in str(exc):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return (any(f.name.endswith("write_eof") and "uvloop" in f.filename for f in frames)
            and any(f.name == "send_eof" for f in frames))


def _count_leaves(group: BaseException | None) -> int:
    if isinstance(group, BaseExceptionGroup):
        return sum(_count_leaves(e) for e in group.exceptions)
    return 0 if group is None else 1


def resolve_client(client: str) -> str:
    """Pick the load generator: wrk if asked for or available, else Python."""
    if client == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("--http-client wrk requested but wrk is not installed")
    return client


def _run_wrk(url: str, duration: int, connections: int) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, duration)}s", "--timeout", "10s",
           "-s", str(WRK_SCRIPT), url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-WRK "):
            raw = json.loads(line[len("BENCH-WRK "):])
            return {
                "client": "wrk",
                "requests": raw["requests"],
                "seconds": raw["duration_us"] / 1e6,
                "p50_ms": raw["p50_us"] / 1e3,
                "p99_ms": raw["p99_us"] / 1e3,
                "errors": raw["errors"],
                "non2xx": raw["non2xx"],
                "connections": connections,
            }
    raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _run_python_client(
    url: str, duration: float, connections: int, max_requests: int | None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.loadgen", "--url", url,
           "--connections", str(connections), "--duration", str(duration)]
    if max_requests is not None:
        cmd += ["--requests", str(max_requests)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                          cwd=PACKAGE_DIR.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed (exit {proc.returncode}):\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def generate(url: str, duration: int) -> dict[str, Any]:
    """Run the configured load generator against *url* (blocking)."""
    client = resolve_client(SETTINGS.client)
    if client == "wrk":
        return _run_wrk(url, duration, SETTINGS.connections)
    # With a request cap the duration is only a safety limit.
    limit = float(duration) if SETTINGS.max_requests is None else 30.0
    return _run_python_client(url, limit, SETTINGS.connections, SETTINGS.max_requests)


async def serve_under_load(duration: int) -> dict[str, Any]:
    """Serve :func:`app` with anycorn on the current backend while another
    process loads it; return the load generator's statistics plus ``ops``."""
    from anycorn import Config, serve

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    # Measure steady-state keep-alive serving, not reconnect churn.
    config.keep_alive_max_requests = 1 << 30
    stop = anyio.Event()
    stats: dict[str, Any] | None = None
    known_errors = 0
    try:
        async with anyio.create_task_group() as tg:
            # A plain ASGI callable; anycorn's precise scope/event types add nothing here.
            asgi_app: Any = app
            binds: list[str] = await tg.start(
                partial(serve, asgi_app, config, shutdown_trigger=stop.wait))
            url = binds[0].rstrip("/") + "/"
            try:
                stats = await anyio.to_thread.run_sync(generate, url, duration)
            finally:
                stop.set()
    except BaseExceptionGroup as group:
        known, rest = group.split(is_known_uvloop_eof_error)
        if rest is not None or stats is None:
            raise
        known_errors = _count_leaves(known)
    assert stats is not None
    if known_errors:
        stats["known_upstream_errors"] = known_errors
    if stats["requests"] == 0:
        raise RuntimeError(f"no HTTP request completed: {stats}")
    if stats["errors"] or stats["non2xx"]:
        raise RuntimeError(f"HTTP errors under load: {stats}")
    stats["ops"] = stats["requests"]
    return stats
