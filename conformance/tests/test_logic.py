"""Self-tests of the harness's pure logic: ids, result files, comparison, gate.

Cheap on purpose (no pytest subprocesses): `python -m pytest conformance/tests`.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from conformance.compare import compare, compare_all, sibling_ids, signature
from conformance.gate import gate
from conformance.known import KnownFailuresError, load_known
from conformance.netns import hosts_text
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
from conformance.rerun import MAX_RERUNS, judge, plan_reruns
from conformance.suite import SuiteError, extract_tar

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
    assert [f.test for f in result.shared_failures] == ["ipv6"]
    assert [f.test for f in result.skipped_only_here] == ["skip"]
    assert [f.test for f in result.passed_only_here] == ["only"]
    assert result.regressions[2].references == {"asyncio": PASSED, "trio": FAILED}


def _verdict(pike: dict[str, TestResult], known: dict[str, str], full: bool = True,
             runs: list[RunResult] | None = None) -> list[str]:
    reference = {"a": OK, "b": OK, "c": OK, "d": FAIL}
    refs = {"asyncio": {test: reference[test] for test in pike} if pike else reference}
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


TIMED_OUT = TestResult(FAILED, "subprocess.TimeoutExpired: Command timed out after 3 seconds")
BROKEN = TestResult(FAILED, "RuntimeError: the kernel lost a task")


def test_signature_is_outcome_and_exception_type() -> None:
    assert signature(TIMED_OUT) == (FAILED, "TimeoutExpired")
    assert signature(TestResult(FAILED, "assert 1 == 2")) == (FAILED, "AssertionError")
    assert signature(TestResult(TIMEOUT, "Timeout (0:00:30)!")) == (TIMEOUT, "")
    assert signature(TestResult(FAILED, "weird")) == (FAILED, "")
    assert signature(TestResult(FAILED, "Failed: DID NOT RAISE")) == (FAILED, "Failed")


def test_failure_shared_the_same_way_in_the_same_run_is_not_a_regression() -> None:
    pike = {"load": TIMED_OUT, "real": BROKEN}
    asyncio = {"load": TIMED_OUT, "real": TestResult(FAILED, "OSError: no")}
    trio = {"load": OK, "real": OK}
    result = compare("pike", pike, {"asyncio": asyncio, "trio": trio})
    assert [f.test for f in result.shared_failures] == ["load"]
    assert "same way on asyncio" in result.shared_failures[0].why
    # asyncio failed too, but differently, and trio passed: still pike's.
    assert [f.test for f in result.regressions] == ["real"]


def test_backend_name_siblings_stand_in_as_references() -> None:
    assert sibling_ids("t.py::test_k[pike]") == {"asyncio": "t.py::test_k[asyncio]",
                                                 "trio": "t.py::test_k[trio]"}
    assert sibling_ids("t.py::test_k[x-pike]")["trio"] == "t.py::test_k[x-trio]"
    assert sibling_ids("t.py::test_k") == {} == sibling_ids("t.py::test_k[pikes]")
    none = {"t.py::test_k[asyncio]": TIMED_OUT, "t.py::test_k[trio]": TIMED_OUT,
            "t.py::test_j[asyncio]": OK, "t.py::test_j[trio]": OK}
    mine = {"t.py::test_k[pike]": TIMED_OUT, "t.py::test_j[pike]": TIMED_OUT}
    result = compare("none@pike", mine, {"none": none})
    assert [f.test for f in result.shared_failures] == ["t.py::test_k[pike]"]
    assert result.shared_failures[0].references == {"none[asyncio]": FAILED,
                                                     "none[trio]": FAILED}
    assert [f.test for f in result.regressions] == ["t.py::test_j[pike]"]


def test_gate_fails_when_pike_collects_fewer_tests() -> None:
    refs = {"asyncio": {"a": OK, "b": OK, "asyncio_only": OK}, "trio": {"a": OK, "b": OK}}
    pairs = [("pike", ("asyncio", "trio"))]
    comparisons = compare_all({"pike": {"a": OK}, **refs}, pairs)
    assert comparisons[0].not_collected == ["b"]  # asyncio_only is backend-specific
    problems = gate(comparisons, VARIANTS, {"pike": {"a": OK}, **refs}, {}, [], True).problems
    assert problems == ["pike collected 1 test(s) fewer than every reference collected (2):"
                        " first b"]
    # With one reference missing, a backend-specific test cannot be told apart: no check.
    partial = compare_all({"pike": {"a": OK}, "asyncio": refs["asyncio"]}, pairs)
    assert partial[0].not_collected == []


def test_gate_fails_on_tests_skipped_only_on_pike_unless_listed() -> None:
    problems = _verdict({"a": SKIP, "b": OK, "c": OK, "d": SKIP}, {})
    assert len(problems) == 1 and "1 test(s) skipped only on pike" in problems[0]
    assert "first a (not here)" in problems[0]  # d is not passed by the reference: fine
    assert _verdict({"a": SKIP, "b": OK, "c": OK}, {"a": "needs X, absent on pike"}) == []


def _rerun_setup(pike: dict[str, TestResult]) -> tuple[dict[str, dict[str, TestResult]],
                                                        list[RunResult]]:
    asyncio = {test: TestResult(PASSED, nodeid=f"{test}[asyncio]") for test in pike}
    trio = {test: TestResult(PASSED, nodeid=f"{test}[trio]") for test in pike}
    columns = {"pike": dict(pike), "asyncio": asyncio, "trio": trio}
    runs = [RunResult(name, columns={name: column}) for name, column in columns.items()]
    return columns, runs


def test_rerun_alone_tells_flakes_environment_and_regressions_apart() -> None:
    pike = {test: TestResult(FAILED, "subprocess.TimeoutExpired: 3 s", nodeid=f"{test}[pike]")
            for test in ("t.py::flaky", "t.py::env", "t.py::real", "t.py::other_way")}
    pike["t.py::hang"] = TestResult(TIMEOUT, "Timeout", nodeid="t.py::hang[pike]")
    pike["t.py::gone"] = TestResult(MISSING, nodeid="t.py::gone[pike]")
    pike["t.py::known"] = TestResult(FAILED, "x", nodeid="t.py::known[pike]")
    columns, runs = _rerun_setup(pike)
    comparisons = compare_all(columns, [("pike", ("asyncio", "trio"))])
    plan = plan_reruns(comparisons, VARIANTS, {"pike": {"t.py::known": "cause"}}, runs, columns)
    assert sorted(r.test for r in plan) == ["t.py::env", "t.py::flaky", "t.py::hang",
                                            "t.py::other_way", "t.py::real"]
    env = next(r for r in plan if r.test == "t.py::env")
    assert env.subject == ("pike", "t.py::env[pike]")
    assert env.references == {"asyncio": ("asyncio", "t.py::env[asyncio]"),
                              "trio": ("trio", "t.py::env[trio]")}
    timed_out = TestResult(FAILED, "subprocess.TimeoutExpired: 3 s")
    outcomes = {
        ("pike", "t.py::flaky[pike]"): OK,
        ("pike", "t.py::env[pike]"): timed_out,
        ("trio", "t.py::env[trio]"): timed_out,
        ("asyncio", "t.py::env[asyncio]"): OK,
        ("pike", "t.py::real[pike]"): timed_out,
        ("pike", "t.py::other_way[pike]"): timed_out,
        ("asyncio", "t.py::other_way[asyncio]"): TestResult(FAILED, "assert 0"),
        # t.py::hang[pike] reported nothing on rerun: missing, still pike's
    }
    judgement = judge(plan, outcomes, columns)
    assert judgement.flaky == [("pike", "t.py::flaky")]
    assert columns["pike"]["t.py::flaky"].outcome == FLAKY
    assert list(judgement.shared["pike"]) == ["t.py::env"]
    assert "on trio too" in judgement.shared["pike"]["t.py::env"]
    assert sorted(judgement.confirmed) == [("pike", "t.py::hang"), ("pike", "t.py::other_way"),
                                           ("pike", "t.py::real")]
    again = compare_all(columns, [("pike", ("asyncio", "trio"))], judgement.shared)[0]
    assert sorted(f.test for f in again.regressions) == [
        "t.py::gone", "t.py::hang", "t.py::known", "t.py::other_way", "t.py::real"]
    assert [f.test for f in again.shared_failures] == ["t.py::env"]


def test_too_many_failures_are_not_rerun() -> None:
    pike = {f"t.py::{i}": TestResult(FAILED, "x", nodeid=f"t.py::{i}[pike]")
            for i in range(MAX_RERUNS + 1)}
    columns, runs = _rerun_setup(pike)
    comparisons = compare_all(columns, [("pike", ("asyncio", "trio"))])
    assert plan_reruns(comparisons, VARIANTS, {}, runs, columns) == []


def test_hosts_file_maps_localhost_to_both_loopbacks() -> None:
    text = hosts_text("127.0.0.1 localhost\n127.0.0.1 vm # me\n::1 ip6-localhost localhost\n")
    assert text.splitlines() == ["127.0.0.1 localhost", "::1 localhost", "127.0.0.1 vm",
                                 "::1 ip6-localhost"]


def test_matrix_takes_the_newest_final_release_of_each_minor() -> None:
    from conformance.matrix import newest_per_minor

    versions = ["4.16.0", "4.15.1", "4.15.0", "4.10.0rc1", "4.9.0", "4.8.0", "3.7.1", "4.6.2.post1"]
    assert newest_per_minor(versions) == ["4.9.0", "4.15.1", "4.16.0"]


def test_options_for_another_environment_are_stripped() -> None:
    from conformance.cli import _without

    argv = ["--gate", "--anyio", "4.9.0", "--python=/p", "tests/x.py", "--", "--anyio", "y"]
    assert _without(argv, ("--anyio", "--python")) == ["--gate", "tests/x.py", "--", "--anyio",
                                                       "y"]


def test_venv_installs_anyios_declared_test_requirements(tmp_path: Path) -> None:
    from conformance.venvs import anyio_test_requirements

    (tmp_path / "pyproject.toml").write_text(
        '[project.optional-dependencies]\ntrio = ["trio >= 0.26"]\n'
        'test = ["anyio[trio]", "coverage[toml] >= 7", "psutil >= 5.9",'
        ' "uvloop >= 0.21; platform_system != \'Windows\'"]\n')
    assert anyio_test_requirements(tmp_path) == [
        "trio >= 0.26", "psutil >= 5.9", "uvloop >= 0.21; platform_system != 'Windows'"]
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\ntest = ["pytest >= 9.0", {include-group = "x"}]\n')
    assert anyio_test_requirements(tmp_path) == ["pytest >= 9.0"]


def test_venv_pytest_follows_anyios_pytest_generation() -> None:
    from conformance.venvs import pytest_requirement

    assert pytest_requirement(["pytest >= 9.0", "trio"]) == "pytest>=9,<10"
    assert pytest_requirement(["pytest >= 8.4"]) == "pytest>=8,<9"
    assert pytest_requirement([]) == "pytest>=8,<9"
    assert pytest_requirement(["pytest >= 9.0"], old_callspec=True) == "pytest>=9,<9.2"


def _sdist(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["filter=data", "checked by hand"])
def extract_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways extract_tar works: tarfile's data filter, and (Python < 3.11.4) its own check."""
    if request.param == "checked by hand":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return str(request.param)


def test_extract_tar_unpacks_an_sdist(tmp_path: Path, extract_mode: str) -> None:
    archive = _sdist(tmp_path / "anyio-1.0.tar.gz", {"anyio-1.0/tests/conftest.py": b"x = 1\n"})
    dest = tmp_path / "out"
    dest.mkdir()
    extract_tar(archive, dest)
    assert (dest / "anyio-1.0" / "tests" / "conftest.py").read_bytes() == b"x = 1\n"


def test_extract_tar_refuses_a_member_outside_the_destination(
    tmp_path: Path, extract_mode: str
) -> None:
    archive = _sdist(tmp_path / "evil.tar.gz", {"anyio-1.0/../../escaped.txt": b"no"})
    dest = tmp_path / "a" / "b"
    dest.mkdir(parents=True)
    with pytest.raises((SuiteError, tarfile.TarError)):
        extract_tar(archive, dest)
    assert not (tmp_path / "escaped.txt").exists()
