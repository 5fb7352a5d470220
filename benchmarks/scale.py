"""How each backend's cost grows with the number of connections, and what it holds in memory.

``python -m benchmarks.scale`` runs, for every backend and every connection
count (10, 100, 1,000 and 10,000 by default):

- an anyio TCP echo server on the backend, in a process of its own;
- a load client in *this* process (a bare ``selectors`` loop, the same for every
  backend) that opens the connections, keeps one 64-byte request in flight on
  each, and counts completed round trips for a fixed time.

The figure that matters is the **server's CPU seconds per 1,000 round trips**,
read from the kernel's accounting of the server process (``psutil``) over the
measured window. It does not depend on how fast the client is, so a client that
saturates before the server cannot hide a backend's cost; round trips/s are
printed beside it for the record. The server's RSS is sampled before the
clients connect and again once all connections sit idle in ``receive()``: the
difference over the connection count is the memory one idle connection costs.

A second measurement spawns 100,000 tasks parked in ``sleep_forever()`` in a
fresh process per backend and reports RSS per parked task.

The result goes to ``benchmarks/results/scale.json`` and a chart of cost against
connections to ``benchmarks/results/scale.png``.

``python -m benchmarks.scale http`` is the HTTP sweep instead (anycorn +
Starlette at 50 and 500 connections, see ``http_scale.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.backends import ANYIO_BACKENDS, run_anyio
from benchmarks.http_scale import HTTP_SIZES, run_http, serve_http
from benchmarks.orchestrator import ROOT, child_env
from benchmarks.worker import RESULT_PREFIX

MESSAGE = b"x" * 64
DEFAULT_SIZES = (10, 100, 1_000, 10_000)
PARKED_TASKS = 100_000
RESULTS = ROOT / "benchmarks" / "results"


def raise_fd_limit(wanted: int) -> None:
    """Lift RLIMIT_NOFILE so 10,000 connections fit (root may raise the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------------ server side


def serve(backend: str) -> None:
    """Echo server on *backend*; prints its port, stops when stdin closes."""
    import anyio
    from anyio.abc import SocketAttribute, SocketStream

    raise_fd_limit(4 * max(DEFAULT_SIZES) + 1000)

    async def echo(stream: SocketStream) -> None:
        async with stream:
            try:
                while True:
                    await stream.send(await stream.receive())
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass

    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", backlog=65535)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, echo)
            print(f"PORT {listener.extra(SocketAttribute.local_port)}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
            tg.cancel_scope.cancel()

    run_anyio(backend, main)


def park(backend: str, count: int) -> None:
    """Print the RSS that *count* tasks parked in ``sleep_forever()`` add."""
    import gc

    import anyio
    import psutil

    me = psutil.Process()

    async def sleeper(started: list[int]) -> None:
        started[0] += 1
        await anyio.sleep_forever()

    async def main() -> dict[str, float]:
        gc.collect()
        before = me.memory_info().rss
        started = [0]
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(sleeper, started)
            while started[0] < count:
                await anyio.sleep(0.01)
            gc.collect()
            after = me.memory_info().rss
            tg.cancel_scope.cancel()
        return {"tasks": count, "rss_bytes": after - before,
                "bytes_per_task": (after - before) / count}

    print(RESULT_PREFIX + json.dumps(run_anyio(backend, main)), flush=True)


# ------------------------------------------------------------------ client side


@dataclass
class Cell:
    """One (backend, connection count) measurement."""

    backend: str
    connections: int
    round_trips: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    rss_base: int = 0
    rss_idle: int = 0
    error: str = ""

    @property
    def cpu_per_1000(self) -> float | None:
        return 1000 * self.server_cpu / self.round_trips if self.round_trips else None

    @property
    def rate(self) -> float | None:
        return self.round_trips / self.seconds if self.seconds else None

    @property
    def rss_per_connection(self) -> float:
        return (self.rss_idle - self.rss_base) / self.connections


@dataclass
class _Pending:
    """A client connection and how many reply bytes it has seen past the last full reply."""

    sock: socket.socket
    received: int = 0


def _connect_all(port: int, count: int, sel: selectors.BaseSelector) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Reset on close: no TIME_WAIT left to eat the ephemeral ports of later cells.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, _Pending(sock))
        socks.append(sock)
    return socks


def _pump(sel: selectors.BaseSelector, socks: list[socket.socket], duration: float) -> int:
    """Keep one request in flight per connection for *duration*; count replies."""
    for sock in socks:
        sock.send(MESSAGE)
    done = 0
    size = len(MESSAGE)
    deadline = time.perf_counter() + duration
    while True:
        events = sel.select(timeout=10)
        if not events:
            raise RuntimeError("server silent for 10 s")
        now_over = time.perf_counter() >= deadline
        for key, _ in events:
            conn: _Pending = key.data
            data = conn.sock.recv(65536)
            if not data:
                raise RuntimeError("server closed a connection")
            conn.received += len(data)
            while conn.received >= size:
                conn.received -= size
                done += 1
                if not now_over:
                    conn.sock.send(MESSAGE)
        if now_over:
            return done


def measure(backend: str, connections: int, duration: float) -> Cell:
    import psutil

    cell = Cell(backend, connections)
    cmd = [sys.executable, "-m", "benchmarks.scale", "serve", "--backend", backend]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, env=child_env(),
                          start_new_session=True) as proc:
        try:
            assert proc.stdout and proc.stdin and proc.stderr
            line = proc.stdout.readline()
            if not line.startswith("PORT "):
                raise RuntimeError(f"server did not start: {line}{proc.stderr.read()}")
            port = int(line.split()[1])
            server = psutil.Process(proc.pid)
            cell.rss_base = server.memory_info().rss
            sel = selectors.DefaultSelector()
            socks = _connect_all(port, connections, sel)
            try:
                _pump(sel, socks, min(0.5, duration))  # warm-up: every handler task running
                time.sleep(0.5)  # let the server settle with every connection idle
                cell.rss_idle = server.memory_info().rss
                cpu = server.cpu_times()
                started = time.perf_counter()
                cell.round_trips = _pump(sel, socks, duration)
                cell.seconds = time.perf_counter() - started
                after = server.cpu_times()
                cell.server_cpu = (after.user + after.system) - (cpu.user + cpu.system)
            finally:
                for sock in socks:
                    sock.close()
                sel.close()
            proc.stdin.close()
            proc.wait(timeout=60)
        except Exception as exc:  # one failed cell must not end the sweep
            cell.error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                if proc.stdin:
                    proc.stdin.close()  # a crashed server may still wait on it
                proc.wait(timeout=5)
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            if "NotImplementedError" in err and backend != "pike":
                cell.error = "n/a: the loop lacks a method anyio's TCP listener needs"
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
    return cell


def measure_parked(backend: str, count: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.scale", "park", "--backend", backend,
           "--tasks", str(count)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env(),
                          timeout=600)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX):])
            return result
    return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"}


# ------------------------------------------------------------------ report


def commit() -> str:
    """The checkout's short commit, for the record beside every table."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def render(cells: list[Cell], parked: dict[str, dict[str, Any]], sizes: list[int],
           tasks: int) -> str:
    backends = list(dict.fromkeys(c.backend for c in cells))
    by = {(c.backend, c.connections): c for c in cells}
    lines = ["server CPU seconds per 1,000 round trips (lower is better); "
             "x = cost relative to the same backend at the smallest size"]
    header = f"{'backend':<10}" + "".join(f"{n:>20,}" for n in sizes)
    lines += [header, "-" * len(header)]
    for b in backends:
        base = by[(b, sizes[0])].cpu_per_1000
        row = f"{b:<10}"
        for n in sizes:
            c = by[(b, n)]
            v = c.cpu_per_1000
            if v is None:
                row += f"{'n/a' if c.error.startswith('n/a') else 'FAIL':>20}"
            else:
                rel = f" ({v / base:.2f}x)" if base else ""
                row += f"{v * 1000:>11.1f} ms{rel:>7}"
        lines.append(row)
    lines += ["", "round trips/s (client-bound at high counts; for the record)", header,
              "-" * len(header)]
    for b in backends:
        row = f"{b:<10}"
        for n in sizes:
            r = by[(b, n)].rate
            row += f"{r:>20,.0f}" if r else f"{'-':>20}"
        lines.append(row)
    big = sizes[-1]
    lines += ["", f"memory: server RSS per idle connection at {big:,} connections; "
              f"RSS per task parked in sleep_forever() at {tasks:,} tasks"]
    for b in backends:
        c = by[(b, big)]
        conn = f"{c.rss_per_connection / 1024:.1f} KiB" if not c.error else "-"
        p = parked.get(b, {})
        task = f"{p['bytes_per_task'] / 1024:.2f} KiB" if "bytes_per_task" in p else "-"
        lines.append(f"{b:<10}{conn:>16} per connection{task:>14} per task")
    errors = [f"{c.backend} at {c.connections}: {c.error}" for c in cells if c.error]
    errors += [f"{b} parked tasks: {p['error']}" for b, p in parked.items() if "error" in p]
    if errors:
        lines += ["", *errors]
    return "\n".join(lines)


def chart(cells: list[Cell], sizes: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for b in dict.fromkeys(c.backend for c in cells):
        points = [(c.connections, c.cpu_per_1000 * 1000) for c in cells
                  if c.backend == b and c.cpu_per_1000 is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=b)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.set_xlabel("concurrent connections")
    ax.set_ylabel("server CPU ms per 1,000 round trips")
    ax.set_title("TCP echo through anyio: cost per round trip vs connections")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve")
    s.add_argument("--backend", required=True)
    p = sub.add_parser("park")
    p.add_argument("--backend", required=True)
    p.add_argument("--tasks", type=int, default=PARKED_TASKS)
    h = sub.add_parser("serve-http")
    h.add_argument("--backend", required=True)
    parser.add_argument("--backends", default=",".join(ANYIO_BACKENDS))
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--smoke", action="store_true", help="10 and 100 connections, 0.3 s")
    parser.add_argument("--http", action="store_true",
                        help="the HTTP sweep (also spelled `http` as the first argument)")
    parser.add_argument("--clients", default="50:1,500:2",
                        help="http: load-client processes per size, as SIZE:N,...")
    if argv[:1] == ["http"]:  # a mode word that takes the sweep's options after it
        argv = ["--http", *argv[1:]]
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.backend)
        return 0
    if args.command == "park":
        park(args.backend, args.tasks)
        return 0
    if args.command == "serve-http":
        serve_http(args.backend)
        return 0

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    sizes = [int(n) for n in args.sizes.split(",")]
    duration, tasks = args.duration, PARKED_TASKS
    if args.http:
        if "--sizes" not in argv:
            sizes = list(HTTP_SIZES)
        if args.smoke:
            sizes, duration = [5, 20], 0.5
        clients = {int(k): int(v) for k, v in
                   (pair.split(":") for pair in args.clients.split(",") if pair)}
        return run_http(backends, sizes, clients, duration)
    if args.smoke:
        sizes, duration, tasks = [10, 100], 0.3, 1_000
    raise_fd_limit(2 * max(sizes) + 1000)
    cells: list[Cell] = []
    for n in sizes:  # sizes outermost: every backend sees the machine in the same state
        for b in backends:
            cell = measure(b, n, duration)
            cells.append(cell)
            cost = f"{cell.cpu_per_1000 * 1000:.1f} ms CPU/1k" if cell.cpu_per_1000 else cell.error
            print(f"{n:>6,} connections  {b:<8} {cost}", flush=True)
    parked = {b: measure_parked(b, tasks) for b in backends}
    print()
    print(render(cells, parked, sizes, tasks))
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": {"python": sys.version.split()[0], "platform": platform.platform(),
                 "duration": duration, "parked_tasks": tasks,
                 "commit": commit(), "load": os.getloadavg()},
        "cells": [{**c.__dict__, "cpu_per_1000": c.cpu_per_1000, "rate": c.rate} for c in cells],
        "parked": parked,
    }
    (RESULTS / "scale.json").write_text(json.dumps(payload, indent=2) + "\n")
    chart(cells, sizes, RESULTS / "scale.png")
    print(f"\nJSON: {RESULTS / 'scale.json'}\nchart: {RESULTS / 'scale.png'}")
    failed = [c for c in cells if c.error and not c.error.startswith("n/a")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
