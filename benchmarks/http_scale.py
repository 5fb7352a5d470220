"""HTTP at scale: anycorn + Starlette at 50 and 500 keep-alive connections per backend.

``python -m benchmarks.scale http`` runs, for every connection count and
backend, a Starlette app served by anycorn on the backend (a process of its
own) and loads it with :mod:`benchmarks.loadgen` from one or more *separate*
client processes that split the connections between them.  It reports
requests/s and the exact p50/p99 over every response of every client (each
client returns its raw latencies), plus two shares of a core:

- the server's CPU over the window (``psutil`` on the server process): near
  1.0 the server is the limit, which is what a comparison of backends needs;
- the busiest client's CPU: near 1.0 the Python load client is the limit and
  the figure says nothing about the server; add ``--clients`` processes.

The machine has two cores, so more client processes than one per spare core
only steal the server's CPU: the table prints both shares so a reader can see
which side was saturated.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from benchmarks.backends import run_anyio
from benchmarks.loadgen import percentile
from benchmarks.orchestrator import ROOT, child_env

HTTP_SIZES = (50, 500)
#: Seconds the clients get to start Python and connect before the load begins.
STARTUP = 3.0


def serve_http(backend: str) -> None:
    """Serve a Starlette hello-world with anycorn on *backend*; print the port;
    stop when stdin closes."""
    import anyio
    from anycorn import Config, serve
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from benchmarks.scale import raise_fd_limit

    raise_fd_limit(4 * max(HTTP_SIZES) + 1000)

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello, world!")

    app = Starlette(routes=[Route("/", hello)])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    config.keep_alive_max_requests = 1 << 30  # steady keep-alive serving, no reconnect churn
    config.backlog = 4096

    async def main() -> None:
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            asgi: Any = app  # Starlette is an ASGI callable; anycorn's scope types add nothing
            binds: list[str] = await tg.start(
                partial(serve, asgi, config, shutdown_trigger=stop.wait))
            print(f"PORT {binds[0].rsplit(':', 1)[1].rstrip('/')}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
            stop.set()

    run_anyio(backend, main)


@dataclass
class HttpCell:
    """One (backend, connection count) HTTP measurement."""

    backend: str
    connections: int
    clients: int
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    server_cpu: float = 0.0  # share of one core over the window
    client_cpu: list[float] = field(default_factory=list)
    error: str = ""

    window: float = 0.0  # seconds over which server_cpu was read

    @property
    def rate(self) -> float | None:
        return self.requests / self.seconds if self.seconds else None

    @property
    def cpu_ms_per_request(self) -> float | None:
        """Server CPU per response: unlike req/s, not set by how much of a core
        a shared machine left the server."""
        return 1e3 * self.server_cpu * self.window / self.requests if self.requests else None


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def measure_http(backend: str, connections: int, clients: int, duration: float) -> HttpCell:
    import psutil

    cell = HttpCell(backend, connections, clients)
    cmd = [sys.executable, "-m", "benchmarks.scale", "serve-http", "--backend", backend]
    # stderr to a file: a failing server's tracebacks must not fill a pipe and block it.
    with tempfile.TemporaryFile("w+") as log, subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            cwd=ROOT, env=child_env(), start_new_session=True) as proc:
        try:
            assert proc.stdout and proc.stdin
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                proc.wait(timeout=30)
                log.seek(0)
                err = log.read()
                raise RuntimeError(f"server did not start: {line}{err[-2000:]}")
            url = f"http://127.0.0.1:{line.split()[1]}/"
            server = psutil.Process(proc.pid)
            # Clients connect, then all start at one instant; the server's CPU is
            # read over exactly that window.
            start_at = time.time() + STARTUP
            loaders = [subprocess.Popen(
                [sys.executable, "-m", "benchmarks.loadgen", "--url", url, "--raw",
                 "--connections", str(n), "--duration", str(duration),
                 "--start-at", repr(start_at)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                env=child_env()) for n in _split(connections, clients)]
            time.sleep(max(0.0, start_at - time.time()))
            cpu0, t0 = server.cpu_times(), time.perf_counter()
            time.sleep(duration)
            cpu1, t1 = server.cpu_times(), time.perf_counter()
            outs = [ld.communicate(timeout=duration + 60) for ld in loaders]
            stats = []
            for ld, (out, err) in zip(loaders, outs, strict=True):
                if ld.returncode != 0:
                    last = err.strip().splitlines()[-1] if err.strip() else "?"
                    raise RuntimeError(f"load client failed: {last}")
                stats.append(json.loads(out.strip().splitlines()[-1]))
            if any(s["errors"] or s["non2xx"] for s in stats):
                raise RuntimeError("HTTP errors under load")
            latencies = sorted(v for s in stats for v in s["latencies_ms"])
            cell.requests = len(latencies)
            cell.seconds = max(s["seconds"] for s in stats)
            cell.p50_ms = percentile(latencies, 50)
            cell.p99_ms = percentile(latencies, 99)
            cell.client_cpu = [s["client_cpu"] for s in stats]
            used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            cell.window = t1 - t0
            cell.server_cpu = used / cell.window
            proc.stdin.close()
            proc.wait(timeout=30)
        except Exception as exc:  # one failed cell must not end the sweep
            cell.error = str(exc) if str(exc).startswith("n/a") else f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=10)
            log.seek(0)
            err = log.read()
            if backend == "rloop" and "connect_accepted_socket" in err:
                cell.error = "n/a: rloop lacks connect_accepted_socket (anyio's accept needs it)"
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
    return cell


def render_http(cells: list[HttpCell]) -> str:
    lines = ["HTTP: anycorn + Starlette hello-world, keep-alive, one request in flight per "
             "connection",
             f"{'conns':>6} {'backend':<9}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'CPU ms/req':>11}{'server CPU':>12}{'client CPU (max)':>18}"]
    lines.append("-" * len(lines[-1]))
    for c in cells:
        head = f"{c.connections:>6} {c.backend:<9}{c.clients:>8}"
        if c.error:
            lines.append(f"{head}  {'n/a' if c.error.startswith('n/a') else 'FAIL: ' + c.error}")
            continue
        lines.append(f"{head}{c.rate or 0:>10,.0f}{c.p50_ms:>9.2f}{c.p99_ms:>9.2f}"
                     f"{c.cpu_ms_per_request or 0:>11.2f}"
                     f"{c.server_cpu:>11.0%} {max(c.client_cpu):>17.0%}")
    return "\n".join(lines)


def run_http(backends: list[str], sizes: list[int], clients: dict[int, int],
             duration: float) -> int:
    """The HTTP sweep: print progress and the table; JSON to benchmarks/results/."""
    from benchmarks.scale import RESULTS, commit, raise_fd_limit

    raise_fd_limit(4 * max(sizes) + 1000)
    cells = []
    for n in sizes:
        for b in backends:
            cell = measure_http(b, n, clients.get(n, 1), duration)
            cells.append(cell)
            what = f"{cell.rate:,.0f} req/s p99 {cell.p99_ms:.2f} ms" if cell.rate else cell.error
            print(f"{n:>5} connections  {b:<8} {what}", flush=True)
    print()
    print(render_http(cells))
    print(f"(load average {os.getloadavg()[0]:.2f}; server CPU = share of one core over the "
          "window: far below 100% with idle clients means the machine, not the client, "
          "was short of CPU)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"meta": {"python": sys.version.split()[0], "commit": commit(),
                        "duration": duration, "load": os.getloadavg()},
               "cells": [{**c.__dict__, "rate": c.rate, "cpu_ms_per_request": c.cpu_ms_per_request}
                         for c in cells]}
    (RESULTS / "http_scale.json").write_text(json.dumps(payload, indent=2) + "\n")
    failed = [c for c in cells if c.error and not c.error.startswith("n/a")]
    return 1 if failed else 0
