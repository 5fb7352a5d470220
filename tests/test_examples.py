"""Smoke tests: every example runs with its defaults (or quick flags) and says what it did."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, timeout: float = 30) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo() -> None:
    out = run_example("demo.py")
    assert "5 replies" in out
    assert "'hello from pike'" in out
    assert "received SIGUSR1" in out
    assert "every task has finished" in out


def test_tcp_client_with_its_own_server() -> None:
    out = run_example("tcp_client.py")
    assert "got back 'pike'" in out


def test_tcp_server_and_client() -> None:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "tcp_server.py"), "--port", "0", "--seconds", "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"listening on 0\.0\.0\.0:(\d+)", line)
        assert match, line
        out = run_example("tcp_client.py", "--port", match.group(1))
        assert "got back 'hello'" in out
    finally:
        server.kill()
        server.wait()


def test_tcp_server_stops_by_itself() -> None:
    out = run_example("tcp_server.py", "--port", "0", "--seconds", "0.2")
    assert "stopping" in out


def test_tcp_benchmark() -> None:
    out = run_example("tcp_benchmark.py", "--seconds", "0.2")
    assert re.search(r"pike:\s+[\d,]+ round trips/s", out)


@pytest.mark.skipif(
    not (importlib.util.find_spec("trio") and importlib.util.find_spec("uvloop")),
    reason="--compare needs trio and uvloop installed",
)
def test_tcp_benchmark_compare() -> None:
    out = run_example("tcp_benchmark.py", "--compare", "--seconds", "0.2", "--clients", "4")
    assert "pike / trio:" in out
    assert "pike / uvloop:" in out


def test_udp_benchmark() -> None:
    out = run_example("udp_benchmark.py", "--seconds", "0.2")
    assert "round trips/s" in out


def test_signals() -> None:
    out = run_example("signals.py")
    assert "received SIGUSR1" in out and "received SIGHUP" in out


def test_event() -> None:
    out = run_example("event.py")
    assert "all events set: True" in out
