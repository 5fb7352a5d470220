"""Test outcomes, and reading the per-run result files the plugin writes.

A run's result file is JSON lines, flushed as each test finishes, so a process
that is killed at its wall-clock cap or crashes still leaves every result it got;
tests it collected but never finished are reported as MISSING, never dropped.
This module is also imported inside the pytest processes, so it stays light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

PASSED = "passed"
XFAILED = "xfailed"
XPASSED = "xpassed"
SKIPPED = "skipped"
FAILED = "failed"
ERROR = "error"
TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"
MISSING = "missing"
FLAKY = "flaky"  # failed, then passed when run again on its own

#: The test did what anyio expects of a working backend.
GOOD = frozenset({PASSED, XFAILED, XPASSED, FLAKY})
#: The test did not run its body, by its own decision; neither good nor bad.
NEUTRAL = frozenset({SKIPPED})
#: Anything else is a failure of the backend under test (or of the machine).
BAD = frozenset({FAILED, ERROR, TIMEOUT, UNAVAILABLE, MISSING})

#: The reason the plugin gives when it skips the IPv6 tests (the report counts them).
NO_IPV6_LOCALHOST = "needs an IPv6 'localhost', which this machine lacks (conformance harness)"

#: Label of tests that anyio's conftest does not parametrize over backends.
NO_BACKEND = "none"


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test in one column, with a one-line reason when not passed."""

    __test__ = False  # not a pytest test class, despite the name

    outcome: str
    message: str = ""
    duration: float = 0.0
    nodeid: str = ""  # pytest's id, to run the test again

    @property
    def good(self) -> bool:
        return self.outcome in GOOD

    @property
    def bad(self) -> bool:
        return self.outcome in BAD


@dataclass
class RunResult:
    """Everything one pytest process reported, grouped into report columns.

    A column is a backend label ("asyncio", "trio", "pike", "pike+poll"), or for
    tests without a backend parameter "none" in a reference run and "none@<run>"
    in a run that registered extra backends (their behaviour can differ there).
    """

    name: str
    columns: dict[str, dict[str, TestResult]] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    finished: bool = False
    exit_code: int | None = None
    elapsed: float = 0.0
    note: str = ""
    resumed: list[str] = field(default_factory=list)  # hangs and crashes survived


def none_column(run_name: str, reference: bool) -> str:
    """Column name for backend-free tests of a run."""
    return NO_BACKEND if reference else f"{NO_BACKEND}@{run_name}"


def load_run(path: Path, run_name: str, reference: bool) -> RunResult:
    """Read a result file; tests collected but never finished become MISSING."""
    run = RunResult(run_name)
    planned: dict[str, tuple[str, str]] = {}  # nodeid -> (column, test id)
    if not path.exists():
        return run
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        event = record.get("event")
        if event == "collected":
            label = record["backend"]
            column = none_column(run_name, reference) if label == NO_BACKEND else label
            planned[record["nodeid"]] = (column, record["test"])
        elif event == "result" and record["nodeid"] in planned:
            column, test = planned.pop(record["nodeid"])
            run.columns.setdefault(column, {})[test] = TestResult(
                record["outcome"], record.get("message", ""), record.get("duration", 0.0),
                record["nodeid"],
            )
        elif event == "collect_error":
            run.collect_errors.append(f"{record['nodeid']}: {record['message']}")
        elif event == "finished":
            run.finished = True
    for nodeid, (column, test) in planned.items():
        run.columns.setdefault(column, {})[test] = TestResult(
            MISSING, "never finished: the process was killed or crashed", 0.0, nodeid
        )
    return run
