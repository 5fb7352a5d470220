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
    async with anyio.create_task_group() as tg:
        binds: list[str] = await tg.start(partial(serve, app, config, shutdown_trigger=stop.wait))
        url = binds[0].rstrip("/") + "/"
        try:
            stats = await anyio.to_thread.run_sync(generate, url, duration)
        finally:
            stop.set()
    if stats["requests"] == 0:
        raise RuntimeError(f"no HTTP request completed: {stats}")
    if stats["errors"] or stats["non2xx"]:
        raise RuntimeError(f"HTTP errors under load: {stats}")
    stats["ops"] = stats["requests"]
    return stats
