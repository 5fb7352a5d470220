"""Run the files of unexpected pike failures once more, so a flaky test cannot flap the gate.

A failing test is run again in a new process together with the rest of its test
file, in the same order, so a failure caused by an earlier test of the same file
(state leaking between tests) shows up again instead of passing alone. A test
that fails and then passes is FLAKY: it counts as passing, yet the report lists
it, because flakiness under pike is still a bug. Only plain failures and errors
are retried (a hang would cost a timeout again; those tests are deselected), and
only a few: hundreds of failures are not flakiness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

from conformance.compare import Comparison
from conformance.known import Known
from conformance.outcomes import ERROR, FAILED, FLAKY, MISSING, TIMEOUT, RunResult, TestResult

MAX_RETRIES = 100


@dataclass
class Retry:
    """What to run again for one run: files, the tests judged, the tests left out."""

    files: list[str] = field(default_factory=list)
    tests: set[str] = field(default_factory=set)  # node ids
    deselect: set[str] = field(default_factory=set)  # node ids that would hang again

    def pytest_args(self) -> list[str]:
        return [arg for nodeid in sorted(self.deselect) for arg in ("--deselect", nodeid)]


def retry_plan(
    comparisons: Sequence[Comparison],
    variants: Mapping[str, str],
    known: Known,
    runs: Iterable[RunResult],
) -> dict[str, Retry]:
    """Per run name, what to run again; empty when there are too many failures to bother."""
    runs = list(runs)
    run_of = {column: run.name for run in runs for column in run.columns}
    plan: dict[str, Retry] = {}
    for comparison in comparisons:
        listed = known.get(variants[comparison.subject], {})
        for finding in comparison.regressions:
            result = finding.result
            if finding.test in listed or result.outcome not in (FAILED, ERROR) or not result.nodeid:
                continue
            retry = plan.setdefault(run_of[comparison.subject], Retry())
            retry.tests.add(result.nodeid)
            file = result.nodeid.split("::", 1)[0]
            if file not in retry.files:
                retry.files.append(file)
    if sum(len(retry.tests) for retry in plan.values()) > MAX_RETRIES:
        return {}
    for run in runs:
        if run.name in plan:
            files = set(plan[run.name].files)
            plan[run.name].deselect = {
                result.nodeid for column in run.columns.values() for result in column.values()
                if result.outcome in (TIMEOUT, MISSING) and result.nodeid.split("::", 1)[0] in files
            } - plan[run.name].tests
    return plan


def apply_retries(
    columns: MutableMapping[str, dict[str, TestResult]], retried: RunResult, tests: set[str]
) -> list[tuple[str, str]]:
    """Mark the retried `tests` that passed the second time FLAKY; return (column, test)."""
    flaky: list[tuple[str, str]] = []
    for column, results in retried.columns.items():
        for test, result in results.items():
            first = columns.get(column, {}).get(test)
            if first is None or first.nodeid not in tests or not result.good or first.good:
                continue
            message = f"passed on retry; first run {first.outcome}: {first.message}"
            columns[column][test] = TestResult(FLAKY, message, first.duration, first.nodeid)
            flaky.append((column, test))
    return flaky
