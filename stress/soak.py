"""Soak and scale: many concurrent TCP connections echoing verified bytes; many runs in a row.

``connections``: an echo server (``pike.serve_listeners``) in this process and a fleet of N
clients in a child process (pike too; a separate process so that N connections need N
fds on each side, within one process's limit). Every client sends a rotating window of
its own byte pattern, checks the echo byte for byte and counts it; the server counts
what it echoed; the two totals must agree. The server's RSS is sampled every half
second: after the ramp-up it must stay flat. Afterwards fds and threads are back to
their baseline.

``runs``: R consecutive ``pike.run``s that each open a TCP connection, call a worker
thread and run a subprocess; fds and threads must not grow, nor RSS beyond noise.

``python -m stress soak [--long]``: CI mode 1,000 connections for 3 s and 50 runs; the
long mode 10,000 connections for 3 minutes (raising RLIMIT_NOFILE) and 500 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import pike

from ._resources import Snapshot, raise_nofile, rss_kib, wait_for_threads

PATTERN_SIZE = 8192
CHUNK_SIZES = (1, 100, 1000, 4000)


def _pattern(client: int) -> bytes:
    seed = f"<{client}>".encode()
    return (seed * (2 * PATTERN_SIZE // len(seed) + 2))[: 2 * PATTERN_SIZE]


# --- the client fleet (child process) ----------------------------------------------------


async def _fleet(port: int, count: int, seconds: float) -> dict[str, Any]:
    connected = 0
    verified = 0
    round_trips = 0
    mismatches = 0
    all_connected = pike.Event()
    deadline = 0.0

    async def client(index: int) -> None:
        nonlocal connected, verified, round_trips, mismatches
        pattern = _pattern(index)
        async with await pike.open_tcp_stream("127.0.0.1", port) as stream:
            connected += 1
            if connected == count:
                all_connected.set()
            await all_connected.wait()
            offset = index % PATTERN_SIZE
            step = 0
            while pike.current_time() < deadline:
                size = CHUNK_SIZES[(index + step) % len(CHUNK_SIZES)]
                chunk = pattern[offset : offset + size]
                await stream.send_all(chunk)
                got = b""
                while len(got) < size:
                    data = await stream.receive_some(size - len(got))
                    if not data:
                        raise AssertionError(f"client {index}: server closed early")
                    got += data
                if got != chunk:
                    mismatches += 1
                verified += len(got)
                round_trips += 1
                offset = (offset + size) % PATTERN_SIZE
                step += 1
            await stream.send_eof()
            if await stream.receive_some() != b"":
                raise AssertionError(f"client {index}: data after the last echo")

    started = pike.current_time()
    rss: list[int] = []

    async with pike.open_nursery() as nursery:
        for index in range(count):
            nursery.start_soon(client, index)
        await all_connected.wait()
        ramp = pike.current_time() - started
        deadline = pike.current_time() + seconds
        while pike.current_time() < deadline:
            rss.append(rss_kib())
            await pike.sleep(0.5)
    return {
        "connected": connected,
        "verified": verified,
        "round_trips": round_trips,
        "mismatches": mismatches,
        "ramp_seconds": ramp,
        "rss_kib": rss,
    }


def _fleet_child(port: int, count: int, seconds: float) -> None:
    raise_nofile(count + 100)
    print(json.dumps(pike.run(_fleet, port, count, seconds)), flush=True)


# --- the server (this process) ------------------------------------------------------------


@dataclass
class ConnectionsReport:
    connections: int
    seconds: float
    echoed: int = 0
    fleet: dict[str, Any] = field(default_factory=dict)
    server_rss_kib: list[int] = field(default_factory=list)
    peak_handlers: int = 0
    before: Snapshot | None = None
    after: Snapshot | None = None

    def rss_growth_kib(self) -> int:
        """Growth over the last two thirds of the echo phase.

        The first third is the ramp into the steady state (socket buffers and
        allocator pools fill up as the traffic starts); a leak keeps growing after it.
        """
        samples = self.server_rss_kib
        return samples[-1] - samples[len(samples) // 3] if len(samples) >= 3 else 0

    def summary(self) -> str:
        assert self.before is not None and self.after is not None
        fleet = self.fleet
        rss = self.server_rss_kib
        return (
            f"soak.connections: {fleet.get('connected')} connections held "
            f"(peak {self.peak_handlers} handlers), ramp-up {fleet.get('ramp_seconds', 0):.1f}s, "
            f"then {self.seconds:.0f}s of echo: {fleet.get('round_trips')} round trips, "
            f"{fleet.get('verified')} bytes verified by the clients, {self.echoed} echoed by "
            f"the server, {fleet.get('mismatches')} mismatches; server RSS (MiB) at the start "
            f"{_mib(rss, 0)}, after a third {_mib(rss, len(rss) // 3)}, at the end "
            f"{_mib(rss, -1)} ({len(rss)} samples, growth {self.rss_growth_kib() / 1024:.1f}); "
            f"before {self.before.describe()}, after {self.after.describe()}"
        )


def _mib(samples: list[int], index: int) -> str:
    return f"{samples[index] / 1024:.1f}" if samples else "?"


def connections(count: int, seconds: float) -> ConnectionsReport:
    raise_nofile(count + 200)
    report = ConnectionsReport(count, seconds)
    report.before = Snapshot.take()
    active = 0

    async def handler(stream: pike.SocketStream) -> None:
        nonlocal active
        active += 1
        report.peak_handlers = max(report.peak_handlers, active)
        try:
            while data := await stream.receive_some(65536):
                await stream.send_all(data)
                report.echoed += len(data)
        finally:
            active -= 1

    async def main() -> None:
        async with pike.open_nursery() as nursery:
            listeners = await pike.open_tcp_listeners(0, host="127.0.0.1")
            await nursery.start(pike.serve_listeners, handler, listeners)
            (listener,) = listeners
            port = listener.socket.getsockname()[1]
            command = [
                sys.executable,
                "-c",
                f"from stress.soak import _fleet_child; _fleet_child({port}, {count}, {seconds})",
            ]

            async def sample() -> None:
                while active < count:
                    await pike.sleep(0.05)
                while True:
                    report.server_rss_kib.append(rss_kib())
                    await pike.sleep(0.5)

            nursery.start_soon(sample)
            result = await pike.run_process(
                command,
                capture_stdout=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            report.fleet = json.loads(result.stdout.decode().strip().splitlines()[-1])
            with pike.fail_after(60):
                while active:
                    await pike.sleep(0.05)
            report.server_rss_kib.append(rss_kib())
            nursery.cancel_scope.cancel()

    pike.run(main)
    wait_for_threads(report.before.threads)
    report.after = Snapshot.take()
    return report


# --- many runs ---------------------------------------------------------------------------


@dataclass
class RunsReport:
    runs: int
    warm: Snapshot | None = None
    after: Snapshot | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        assert self.warm is not None and self.after is not None
        return (
            f"soak.runs: {self.runs} consecutive pike.runs (TCP echo, to_thread, subprocess "
            f"each); after 5 warm-up runs {self.warm.describe()}, after all "
            f"{self.after.describe()}; {self.seconds:.1f}s"
        )


async def _one_run(index: int) -> None:
    (listener,) = await pike.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    async with (
        listener,
        await pike.open_tcp_stream("127.0.0.1", port) as client,
        await listener.accept() as server,
    ):
        message = f"run {index}".encode()
        await client.send_all(message)
        if await server.receive_some(100) != message:
            raise AssertionError("echo mismatch")
    if await pike.to_thread.run_sync(lambda: index * 2) != index * 2:
        raise AssertionError("to_thread returned the wrong value")
    done = await pike.run_process(["true"])
    if done.returncode != 0:
        raise AssertionError("subprocess failed")


def runs(count: int) -> RunsReport:
    report = RunsReport(count)
    started = time.monotonic()
    for i in range(count):
        pike.run(_one_run, i)
        if i == 4:
            report.warm = Snapshot.take(settle=5.0)
    report.after = Snapshot.take(settle=5.0)
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress soak")
    parser.add_argument("--long", action="store_true", help="10,000 connections, 500 runs")
    args = parser.parse_args(argv)
    count, seconds, run_count = (10_000, 180.0, 500) if args.long else (1000, 3.0, 50)
    failed = False
    conns = connections(count, seconds)
    print(conns.summary(), flush=True)
    problems = connection_problems(conns)
    many = runs(run_count)
    print(many.summary(), flush=True)
    problems += runs_problems(many)
    for problem in problems:
        print("  FAIL", problem)
        failed = True
    return 1 if failed else 0


# Generous, since RSS on a loaded machine is noisy; a real per-connection or per-run
# leak at these counts is far larger.
RSS_SLACK_KIB = 16 * 1024


def connection_problems(report: ConnectionsReport) -> list[str]:
    problems = []
    fleet = report.fleet
    assert report.before is not None and report.after is not None
    if fleet.get("connected") != report.connections:
        problems.append(f"only {fleet.get('connected')} of {report.connections} connected")
    if report.peak_handlers != report.connections:
        problems.append(f"server held at most {report.peak_handlers} connections at once")
    if fleet.get("mismatches"):
        problems.append(f"{fleet['mismatches']} echoes differed")
    if not fleet.get("verified") or fleet.get("verified") != report.echoed:
        problems.append(
            f"clients verified {fleet.get('verified')} bytes, server echoed {report.echoed}"
        )
    if report.rss_growth_kib() > RSS_SLACK_KIB:
        problems.append(f"server RSS grew {report.rss_growth_kib()} KiB after ramp-up")
    if (report.after.fds, report.after.threads) != (report.before.fds, report.before.threads):
        problems.append("fds or threads not back to baseline")
    return problems


def runs_problems(report: RunsReport) -> list[str]:
    assert report.warm is not None and report.after is not None
    problems = []
    if report.after.fds != report.warm.fds:
        problems.append(f"fds grew from {report.warm.fds} to {report.after.fds}")
    if report.after.threads != report.warm.threads:
        problems.append(f"threads grew from {report.warm.threads} to {report.after.threads}")
    if report.after.rss_kib - report.warm.rss_kib > RSS_SLACK_KIB:
        problems.append(f"RSS grew {report.after.rss_kib - report.warm.rss_kib} KiB")
    return problems


if __name__ == "__main__":
    sys.exit(main())
