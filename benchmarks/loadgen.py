"""A small HTTP/1.1 keep-alive load generator: the fallback when ``wrk`` is absent.

CI machines have only what the project installs, so the HTTP workload must not
depend on wrk.  This client is deliberately *not* asyncio/trio/anyio based: it
uses a bare ``selectors`` loop so the load side is identical, and independent,
whichever backend the server under test runs on.  Like wrk it keeps N
connections busy with one request in flight each and counts the responses that
complete within the duration.  It is slower than wrk, so absolute requests/s
from the two are not comparable — only ratios within one run are.

Run as ``python -m benchmarks.loadgen --url http://127.0.0.1:PORT/`` (prints one
JSON line), or call :func:`generate_load`.
"""

from __future__ import annotations

import argparse
import json
import resource
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: How long the client tolerates total silence from the server before giving up.
STALL_TIMEOUT = 10.0


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    sent_at: float = 0.0
    in_flight: bool = False


def _open(host: str, port: int, sel: selectors.BaseSelector) -> _Conn:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    conn = _Conn(sock)
    sel.register(sock, selectors.EVENT_READ, conn)
    return conn


def _parse_response(buf: bytearray) -> tuple[int, int, bool] | None:
    """Return (total length, status, server wants close) of the first complete
    response in *buf*, or None if it is not complete yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    length = 0
    start = head.find(b"\r\ncontent-length:")
    if start >= 0:
        stop = head.find(b"\r\n", start + 2)
        length = int(head[start + 17 : stop if stop >= 0 else len(head)])
    total = end + 4 + length
    if len(buf) < total:
        return None
    return total, status, b"\r\nconnection: close" in head


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 if empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate_load(
    url: str, connections: int, duration: float, max_requests: int | None = None,
    raw: bool = False, start_at: float | None = None,
) -> dict[str, Any]:
    """Keep *connections* busy with GETs of *url* for *duration* seconds (or
    until *max_requests* responses arrived) and return wrk-like statistics.

    ``client_cpu`` is this process's CPU share over the measured window (1.0 =
    one core busy): near 1.0 the client, not the server, limits the rate.  With
    *raw* the sorted latencies (ms) are included, so that several client
    processes can be merged into one exact percentile.  With *start_at* (a
    ``time.time()`` value) the load starts then, after connecting, so several
    clients and the caller's server-CPU window line up."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    latencies: list[float] = []
    errors = non2xx = issued = 0
    clock = time.perf_counter

    def may_issue() -> bool:
        return max_requests is None or issued < max_requests

    def send(conn: _Conn) -> None:
        nonlocal issued
        issued += 1
        conn.in_flight = True
        conn.sent_at = clock()
        conn.sock.sendall(request)

    conns = [_open(host, port, sel) for _ in range(connections)]
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    cpu_started = _cpu_seconds()
    started = clock()
    deadline = started + duration
    for first in conns:
        if may_issue():
            send(first)
    last_progress = started
    while any(c.in_flight for c in conns):
        now = clock()
        if now >= deadline:
            break
        if now - last_progress > STALL_TIMEOUT:
            raise TimeoutError(f"HTTP server stalled for {STALL_TIMEOUT}s")
        for key, _ in sel.select(timeout=min(0.5, deadline - now)):
            conn: _Conn = key.data
            try:
                data = conn.sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                errors += conn.in_flight
                sel.unregister(conn.sock)
                conn.sock.close()
                conns.remove(conn)
                conn = _open(host, port, sel)
                conns.append(conn)
                if may_issue():
                    send(conn)
                continue
            conn.buf += data
            parsed = _parse_response(conn.buf)
            if parsed is None:
                continue
            total, status, close = parsed
            done_at = clock()
            latencies.append(done_at - conn.sent_at)
            last_progress = done_at
            non2xx += not 200 <= status < 300
            del conn.buf[:total]
            conn.in_flight = False
            if close:
                sel.unregister(conn.sock)
                conn.sock.close()
                conns.remove(conn)
                conn = _open(host, port, sel)
                conns.append(conn)
            if may_issue() and done_at < deadline:
                send(conn)
    elapsed = min(clock(), deadline) - started
    cpu = _cpu_seconds() - cpu_started
    for conn in conns:
        conn.sock.close()
    sel.close()
    latencies.sort()
    stats: dict[str, Any] = {
        "client": "python",
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "errors": errors,
        "non2xx": non2xx,
        "connections": connections,
        "client_cpu": cpu / elapsed if elapsed > 0 else 0.0,
    }
    if raw:
        stats["latencies_ms"] = [round(v * 1e3, 4) for v in latencies]
    return stats


def main(argv: list[str]) -> int:
    """CLI entry: print the statistics as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--requests", type=int, default=None, help="stop after this many")
    parser.add_argument("--raw", action="store_true", help="include every latency (ms)")
    parser.add_argument("--start-at", type=float, default=None, help="time.time() to start at")
    args = parser.parse_args(argv)
    stats = generate_load(args.url, args.connections, args.duration, args.requests, args.raw,
                          args.start_at)
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
