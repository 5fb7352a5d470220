"""CI mode of stress.soak: 1,000 echoing connections for a few seconds; 50 runs in a row."""

from __future__ import annotations

from stress.soak import connection_problems, connections, runs, runs_problems


def test_thousand_connections_every_byte_verified() -> None:
    report = connections(1000, 3.0)
    print(report.summary())
    assert connection_problems(report) == []
    assert report.fleet["round_trips"] >= 1000  # each connection echoed at least once


def test_fifty_runs_leave_nothing_behind() -> None:
    report = runs(50)
    print(report.summary())
    assert runs_problems(report) == []
