"""Threads and signals: from_thread under load, a dead run's token, signal storms, SIGINT.

* ``hammer``: 16 threads (8 started by ``to_thread``, 8 plain ones holding the run's
  token) each make M ``from_thread.run_sync`` and M ``from_thread.run`` calls; every call
  returns its own answer, each thread's calls arrive in its order, and a ticking task
  meanwhile keeps making progress.
* ``finished_token``: once a run is over, its token, ``from_thread.run_sync`` and
  ``from_thread.run`` with it raise ``RunFinishedError`` at once (no hang).
* ``race_end``: threads calling into the run while it ends get a result or
  ``RunFinishedError``, nothing else (issue 9, defect 0e).
* ``signal_storm``: rounds of bursts of four distinct signals sent from another thread;
  ``open_signal_receiver`` yields every distinct signal of each burst at least once.
* ``sigint``: in a subprocess, SIGINT while a shielded cleanup runs, and a second SIGINT
  after the first started the cleanup; the process ends with KeyboardInterrupt out of
  ``pike.run``. ``sigint_stuck_cleanup``: the cleanup never ends by itself; trio's second
  KeyboardInterrupt interrupts it, pike (today) keeps waiting.

``python -m stress threads_signals [--long]``: the long mode is 10x bigger.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pike
from pike.lowlevel import checkpoint

from ._resources import Snapshot, wait_for_threads

HANG_GUARD = 30.0


def hammer(threads: int = 16, calls: int = 300) -> str:
    before = Snapshot.take()
    arrived: dict[int, list[int]] = {t: [] for t in range(threads)}
    async_arrived: dict[int, list[int]] = {t: [] for t in range(threads)}
    errors: list[str] = []
    spins = 0

    def record(thread: int, seq: int) -> int:
        arrived[thread].append(seq)
        return thread * 1_000_000 + seq

    async def arecord(thread: int, seq: int) -> int:
        await checkpoint()
        async_arrived[thread].append(seq)
        return -(thread * 1_000_000 + seq)

    def work(thread: int, token: Any) -> None:
        try:
            for seq in range(calls):
                got = pike.from_thread.run_sync(record, thread, seq, token=token)
                if got != thread * 1_000_000 + seq:
                    errors.append(f"thread {thread} call {seq}: run_sync returned {got}")
                got = pike.from_thread.run(arecord, thread, seq, token=token)
                if got != -(thread * 1_000_000 + seq):
                    errors.append(f"thread {thread} call {seq}: run returned {got}")
        except BaseException as exc:
            errors.append(f"thread {thread}: {exc!r}")

    async def main() -> None:
        nonlocal spins
        token = pike.lowlevel.current_token()
        plain_done = pike.Event()
        remaining = threads // 2

        def one_done() -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0:
                plain_done.set()

        def plain(thread: int) -> None:
            work(thread, token)
            token.run_sync_soon(one_done)

        async def spinner() -> None:
            # A ticker, not a busy loop: a task spinning on checkpoints starves other
            # threads of the GIL (issue 9, defect 0d), which is not what this measures.
            nonlocal spins
            while True:
                await pike.sleep(0.001)
                spins += 1

        with pike.fail_after(HANG_GUARD * 4):
            async with pike.open_nursery() as nursery:
                nursery.start_soon(spinner)
                started = [threading.Thread(target=plain, args=(t,)) for t in range(threads // 2)]
                for thread in started:
                    thread.start()
                async with pike.open_nursery() as workers:
                    for t in range(threads // 2, threads):
                        workers.start_soon(pike.to_thread.run_sync, work, t, None)
                await plain_done.wait()
                for thread in started:
                    await pike.to_thread.run_sync(thread.join)
                nursery.cancel_scope.cancel()

    started_at = time.monotonic()
    pike.run(main)
    elapsed = time.monotonic() - started_at
    after_threads = wait_for_threads(before.threads)
    for t in range(threads):
        if arrived[t] != list(range(calls)) or async_arrived[t] != list(range(calls)):
            errors.append(f"thread {t}: calls arrived out of order or lost")
    if spins == 0:
        errors.append("the ticking task made no progress while threads called in")
    if after_threads != before.threads:
        errors.append(f"threads {before.threads} before, {after_threads} after")
    if errors:
        raise AssertionError("; ".join(errors[:10]))
    return (
        f"hammer: {threads} threads x {calls} run_sync + {calls} run = "
        f"{threads * calls * 2} calls answered in order in {elapsed:.1f}s; a 1 ms ticker "
        f"ticked {spins} times meanwhile; threads {before.threads} -> {after_threads}"
    )


def finished_token() -> str:
    async def main() -> Any:
        return pike.lowlevel.current_token()

    token = pike.run(main)
    seen: dict[str, str] = {}

    async def nothing() -> None:
        pass

    def attempts() -> None:
        calls: dict[str, Callable[[], Any]] = {
            "run_sync_soon": lambda: token.run_sync_soon(print),
            "from_thread.run_sync": lambda: pike.from_thread.run_sync(print, token=token),
            "from_thread.run": lambda: pike.from_thread.run(nothing, token=token),
        }
        for name, call in calls.items():
            try:
                call()
                seen[name] = "returned"
            except pike.RunFinishedError:
                seen[name] = "RunFinishedError"
            except BaseException as exc:
                seen[name] = repr(exc)

    thread = threading.Thread(target=attempts)
    thread.start()
    thread.join(HANG_GUARD)
    if thread.is_alive():
        raise AssertionError("a call with a finished run's token hung")
    if set(seen.values()) != {"RunFinishedError"}:
        raise AssertionError(f"a finished run's token: {seen}")
    return "finished_token: run_sync_soon, from_thread.run_sync, from_thread.run: RunFinishedError"


def race_end(rounds: int = 20, threads: int = 4) -> str:
    """Threads keep calling into the run as it ends: results or RunFinishedError only."""
    results: dict[str, int] = {}
    bad: list[str] = []

    async def nothing() -> int:
        return 1

    def caller(token: Any, stop: threading.Event, use_async: bool) -> None:
        while not stop.is_set():
            try:
                if use_async:
                    pike.from_thread.run(nothing, token=token)
                else:
                    pike.from_thread.run_sync(int, token=token)
                results["ok"] = results.get("ok", 0) + 1
            except pike.RunFinishedError:
                results["finished"] = results.get("finished", 0) + 1
                return
            except BaseException as exc:
                bad.append(repr(exc))
                return

    for _ in range(rounds):
        stop = threading.Event()
        started: list[threading.Thread] = []

        async def main() -> None:
            token = pike.lowlevel.current_token()
            for i in range(threads):
                thread = threading.Thread(target=caller, args=(token, stop, i % 2 == 0))  # noqa: B023
                thread.start()
                started.append(thread)  # noqa: B023
            await pike.sleep(0.01)

        pike.run(main)
        for thread in started:
            thread.join(HANG_GUARD)
            if thread.is_alive():
                stop.set()
                raise AssertionError("a thread calling into an ending run hung")
        stop.set()
    if bad:
        raise AssertionError(f"{len(bad)} calls racing the end of the run raised: {bad[:3]}")
    return (
        f"race_end: {rounds} runs ended under {threads} calling threads: "
        f"{results.get('ok', 0)} calls answered, {results.get('finished', 0)} RunFinishedError"
    )


STORM_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH)


def signal_storm(rounds: int = 50, burst: int = 200) -> str:
    """Bursts of distinct signals: each distinct signal of a burst is received at least once."""
    import random

    rng = random.Random(9)
    sent = 0
    received = 0

    def send(signals: list[int]) -> None:
        pid = os.getpid()
        for signum in signals:
            os.kill(pid, signum)

    async def main() -> None:
        nonlocal sent, received
        with pike.open_signal_receiver(*STORM_SIGNALS) as receiver:
            for r in range(rounds):
                distinct = rng.sample(STORM_SIGNALS, rng.randint(1, len(STORM_SIGNALS)))
                signals = [rng.choice(distinct) for _ in range(burst)] + list(distinct)
                rng.shuffle(signals)
                await pike.to_thread.run_sync(send, signals)
                sent += len(signals)
                missing = set(distinct)
                with pike.move_on_after(HANG_GUARD) as scope:
                    async for signum in receiver:
                        received += 1
                        missing.discard(signum)
                        if not missing:
                            break
                if scope.cancelled_caught:
                    raise AssertionError(f"round {r}: never received {sorted(missing)}")
                # Drop what is still queued, so the next round's check starts clean.
                with pike.move_on_after(0.01):
                    async for _ in receiver:
                        received += 1

    started = time.monotonic()
    pike.run(main)
    return (
        f"signal_storm: {rounds} bursts, {sent} signals sent from a thread, {received} "
        f"deliveries; every distinct signal of every burst received; "
        f"{time.monotonic() - started:.1f}s"
    )


_SIGINT_CHILD = """
import sys
import {lib} as lib

def say(msg):
    print(msg, flush=True)

async def main():
    try:
        say("ready")
        await {body}
    finally:
        with lib.CancelScope(shield=True):
            say("cleanup start")
            try:
                await {cleanup}
            except BaseException as exc:
                say("cleanup interrupted by " + type(exc).__name__)
                raise
            say("cleanup done")

try:
    lib.run(main)
    say("run returned")
except KeyboardInterrupt:
    say("KeyboardInterrupt out of run")
"""


def sigint_child(
    lib: str, first_starts_cleanup: bool, stuck: bool, patience: float = 15.0
) -> list[str]:
    """Run the child; SIGINT once or twice; return what it printed (or 'hung')."""
    code = _SIGINT_CHILD.format(
        lib=lib,
        body="lib.sleep_forever()" if first_starts_cleanup else "lib.sleep(0.2)",
        cleanup="lib.sleep_forever()" if stuck else "lib.sleep(1.5)",
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    lines = [child.stdout.readline().strip()]  # "ready"
    if first_starts_cleanup:
        time.sleep(0.1)
        child.send_signal(signal.SIGINT)
    lines.append(child.stdout.readline().strip())  # "cleanup start"
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    try:
        out, _ = child.communicate(timeout=patience)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return [*lines, "hung"]
    return lines + out.splitlines()


def sigint() -> str:
    """One SIGINT during a shielded cleanup; a second one after the first began it."""
    observed = []
    for first_starts_cleanup in (False, True):
        lines = sigint_child("pike", first_starts_cleanup, stuck=False)
        label = "2nd SIGINT" if first_starts_cleanup else "SIGINT"
        if lines[:2] != ["ready", "cleanup start"] or lines[-1] != "KeyboardInterrupt out of run":
            raise AssertionError(f"{label} during shielded cleanup: {lines}")
        observed.append(f"{label} during shielded cleanup: {', '.join(lines[2:])}")
    return "sigint: " + "; ".join(observed)


def sigint_stuck_cleanup() -> str:
    """A shielded cleanup that never ends: the 2nd SIGINT must still get the process out."""
    lines = sigint_child("pike", first_starts_cleanup=True, stuck=True, patience=5.0)
    if lines[-1] != "KeyboardInterrupt out of run":
        raise AssertionError(f"2nd SIGINT during a stuck shielded cleanup: {lines}")
    return f"sigint_stuck_cleanup: {', '.join(lines[2:])}"


SCENARIOS: dict[str, Callable[[], str]] = {
    "hammer": hammer,
    "finished_token": finished_token,
    "race_end": race_end,
    "signal_storm": signal_storm,
    "sigint": sigint,
    "sigint_stuck_cleanup": sigint_stuck_cleanup,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress threads_signals")
    parser.add_argument("--long", action="store_true", help="10x more calls, runs and bursts")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    args = parser.parse_args(argv)
    long_runs: dict[str, Callable[[], str]] = {
        "hammer": lambda: hammer(16, 3000),
        "race_end": lambda: race_end(200),
        "signal_storm": lambda: signal_storm(500),
    }
    failed = 0
    names = args.names or list(SCENARIOS)
    for name in names:
        scenario = long_runs.get(name, SCENARIOS[name]) if args.long else SCENARIOS[name]
        try:
            print(scenario(), flush=True)
        except Exception as exc:
            print(f"FAIL {name}: {exc!r}", flush=True)
            failed += 1
    print(f"threads_signals: {len(names) - failed}/{len(names)} scenarios held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
