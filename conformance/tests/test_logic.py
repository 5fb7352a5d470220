"""Self-tests of the harness's pure logic: ids, result files, comparison, gate.

Cheap on purpose (no pytest subprocesses): `python -m pytest conformance/tests`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.compare import compare
from conformance.gate import gate
from conformance.known import KnownFailuresError, load_known
from conformance.outcomes import (
    FAILED,
    FLAKY,
    MISSING,
    PASSED,
    SKIPPED,
    TIMEOUT,
    UNAVAILABLE,
    RunResult,
    TestResult,
    load_run,
)
from conformance.plugin import normalised_id
from conformance.retry import apply_retries, retry_plan

OK = TestResult(PASSED)
FAIL = TestResult(FAILED, "boom")
SKIP = TestResult(SKIPPED, "not here")
VARIANTS = {"pike": "pike", "none@pike": "pike"}


@pytest.mark.parametrize(
    ("nodeid", "label", "expected"),
    [
        ("t.py::test_a[pike]", "pike", "t.py::test_a"),
        ("t.py::test_a[asyncio+uvloop]", "asyncio+uvloop", "t.py::test_a"),
        ("t.py::C::test_a[ipv4-trio]", "trio", "t.py::C::test_a[ipv4]"),
        ("t.py::test_a[pike+poll-x-y]", "pike+poll", "t.py::test_a[x-y]"),
        ("t.py::test_a[asyncio]", "none", "t.py::test_a[asyncio]"),
    ],
)
def test_normalised_id(nodeid: str, label: str, expected: str) -> None:
    assert normalised_id(nodeid, label) == expected


def test_load_run_marks_unfinished_tests_missing(tmp_path: Path) -> None:
    lines = [
        {"event": "collected", "nodeid": "t.py::a[pike]", "backend": "pike", "test": "t.py::a"},
        {"event": "collected", "nodeid": "t.py::b[pike]", "backend": "pike", "test": "t.py::b"},
        {"event": "collected", "nodeid": "t.py::c", "backend": "none", "test": "t.py::c"},
        {"event": "result", "nodeid": "t.py::a[pike]", "outcome": "passed"},
        {"event": "result", "nodeid": "t.py::c", "outcome": "failed", "message": "x"},
    ]
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"event": "res')
    run = load_run(path, "pike", reference=False)
    assert not run.finished
    assert run.columns["pike"]["t.py::a"].outcome == PASSED
    assert run.columns["pike"]["t.py::b"].outcome == MISSING
    assert run.columns["none@pike"]["t.py::c"].outcome == FAILED


def test_compare_classifies() -> None:
    pike = {"reg": FAIL, "ipv6": FAIL, "ok": OK, "skip": SKIP, "alone": FAIL, "only": OK,
            "gone": TestResult(UNAVAILABLE)}
    asyncio = {"reg": OK, "ipv6": FAIL, "ok": OK, "skip": OK, "only": FAIL, "gone": OK,
               "asyncio_only": OK}
    trio = {"reg": FAIL, "ipv6": FAIL, "ok": OK, "skip": OK, "only": SKIP, "gone": OK}
    result = compare("pike", pike, {"asyncio": asyncio, "trio": trio})
    assert [f.test for f in result.regressions] == ["alone", "gone", "reg"]
    assert [f.test for f in result.broken_everywhere] == ["ipv6"]
    assert [f.test for f in result.skipped_only_here] == ["skip"]
    assert [f.test for f in result.passed_only_here] == ["only"]
    assert result.regressions[2].references == {"asyncio": PASSED, "trio": FAILED}


def _verdict(pike: dict[str, TestResult], known: dict[str, str], full: bool = True,
             runs: list[RunResult] | None = None) -> list[str]:
    refs = {"asyncio": {"a": OK, "b": OK, "c": OK, "d": FAIL}}
    columns = {"pike": pike, **refs}
    comparisons = [compare("pike", pike, refs)]
    return gate(comparisons, VARIANTS, columns, {"pike": known}, runs or [], full).problems


def test_gate_passes_when_only_known_failures_regress() -> None:
    assert _verdict({"a": OK, "b": FAIL, "d": FAIL}, {"b": "cause"}) == []


def test_gate_fails_on_unexpected_regression() -> None:
    problems = _verdict({"a": FAIL, "b": FAIL}, {"b": "cause"})
    assert problems == ["1 unexpected regression(s) on pike (of 2; 1 known)"]


def test_gate_fails_when_a_known_failure_passes() -> None:
    problems = _verdict({"a": OK, "b": OK}, {"b": "cause"})
    assert len(problems) == 1 and "now passes" in problems[0]


def test_gate_tolerates_known_failure_that_fails_everywhere() -> None:
    assert _verdict({"a": OK, "d": FAIL}, {"d": "needs IPv6"}) == []


def test_gate_stale_entries_only_fail_full_runs() -> None:
    assert _verdict({"a": OK}, {"zz": "renamed"}, full=False) == []
    assert "names no test" in _verdict({"a": OK}, {"zz": "renamed"})[0]


def test_gate_fails_on_empty_subject_and_abnormal_runs() -> None:
    crashed = RunResult("pike", note="killed at the 900s wall-clock cap")
    problems = _verdict({}, {}, runs=[crashed])
    assert problems[0] == "run pike: killed at the 900s wall-clock cap"
    assert "ran no tests" in problems[1]


def test_known_failures_need_a_cause(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[pike]\n"t.py::a" = "real cause"\n')
    assert load_known(path) == {"pike": {"t.py::a": "real cause"}}
    path.write_text('[pike]\n"t.py::a" = ""\n')
    with pytest.raises(KnownFailuresError):
        load_known(path)


def test_checked_in_known_failures_parse() -> None:
    load_known()


def test_retry_plan_reruns_files_and_marks_flaky() -> None:
    first = {"t.py::a": TestResult(FAILED, "x", nodeid="t.py::a[pike]"),
             "t.py::b": TestResult(TIMEOUT, nodeid="t.py::b[pike]"),
             "t.py::c": TestResult(FAILED, nodeid="t.py::c[pike]")}
    columns = {"pike": dict(first), "asyncio": {"t.py::a": OK, "t.py::b": OK, "t.py::c": OK}}
    run = RunResult("pike", columns={"pike": columns["pike"]})
    comparisons = [compare("pike", columns["pike"], {"asyncio": columns["asyncio"]})]
    plan = retry_plan(comparisons, VARIANTS, {"pike": {"t.py::c": "known"}}, [run])
    assert list(plan) == ["pike"]
    retry = plan["pike"]
    assert (retry.files, retry.tests, retry.deselect) == (["t.py"], {"t.py::a[pike]"},
                                                          {"t.py::b[pike]"})
    again = RunResult("pike", columns={"pike": {"t.py::a": OK, "t.py::c": OK}})
    assert apply_retries(columns, again, retry.tests) == [("pike", "t.py::a")]
    assert columns["pike"]["t.py::a"].outcome == FLAKY
    assert columns["pike"]["t.py::c"].outcome == FAILED  # known failures are not retried
