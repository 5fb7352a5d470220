"""Compare a subject column (pike) with reference columns (asyncio, trio), test by test.

Pure functions over outcomes, so the rules are easy to check in isolation. A test
the subject fails (failed, error, timeout, unavailable, missing) is:

* shared: a reference variant of the same test failed in the same run too, and
  either no reference passed it or one failed *the same way* (same outcome and
  exception type). The machine or the test is at fault, not pike: no IPv6
  `localhost`, a subprocess with a hard 3 s limit on a loaded machine;
* a regression otherwise, including a test that only pike runs or that every
  reference skips (nothing excuses it). The harness then reruns each regression
  in isolation on pike and on the references (`rerun.py`), which may still turn
  it into a flake or a shared failure.

A test the subject skips while every reference passes is "skipped only here";
a test every reference run collected but the subject's run did not is "not
collected". Both hide behaviour from the comparison, so the gate counts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from conformance.outcomes import TIMEOUT, TestResult

Column = Mapping[str, TestResult]

#: The backend label pike's parametrized ids carry, and those its siblings carry.
SUBJECT_LABEL = "pike"
SIBLING_LABELS = ("asyncio", "trio")

_EXC_TYPE = re.compile(r"^((?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Expired|Failed|"
                       r"Interrupt|Group|Exit|Warning|Timeout)):")


def signature(result: TestResult) -> tuple[str, str]:
    """How a test failed, coarsely: its outcome and the exception's type name.

    Two backends "fail the same way" when their signatures match. Messages carry
    backend-specific detail (addresses, reprs), so only the type is compared;
    pytest prints bare assertion failures as "assert ...".
    """
    message = result.message.strip()
    if message.startswith("assert "):
        return result.outcome, "AssertionError"
    match = _EXC_TYPE.match(message)
    return result.outcome, match.group(1).rsplit(".", 1)[-1] if match else ""


def same_way(a: TestResult, b: TestResult) -> bool:
    """Whether two failures match: same outcome, and a known, equal exception type.

    A failure whose type cannot be read matches nothing but a timeout, which is
    a kind of failure in itself.
    """
    outcome, kind = signature(a)
    return (outcome, kind) == signature(b) and (bool(kind) or outcome == TIMEOUT)


def sibling_ids(test: str, label: str = SUBJECT_LABEL,
                siblings: Sequence[str] = SIBLING_LABELS) -> dict[str, str]:
    """The ids of the same test parametrized for the reference backends instead.

    Some backend-free tests take the backend *name* as their own parameter
    (anyio's `anyio_backend_name` tests: `test_x[pike]` next to `test_x[asyncio]`
    and `test_x[trio]` in the reference run); they have no shared id, so their
    reference variants are found by swapping that parameter.
    """
    if not test.endswith("]") or "[" not in test:
        return {}
    head, _, params = test[:-1].partition("[")
    parts = params.split("-")
    if label not in parts:
        return {}
    index = parts.index(label)
    return {name: f"{head}[{'-'.join([*parts[:index], name, *parts[index + 1:]])}]"
            for name in siblings}


def reference_results(test: str, references: Mapping[str, Column]) -> dict[str, TestResult]:
    """The reference variants of `test`: the same id, or failing that its siblings.

    Keys are reference column names, suffixed with the sibling's backend when a
    sibling stood in ("none[asyncio]").
    """
    found = {name: column[test] for name, column in references.items() if test in column}
    if found:
        return found
    for backend, sibling in sibling_ids(test).items():
        for name, column in references.items():
            if sibling in column:
                found[f"{name}[{backend}]"] = column[sibling]
    return found


@dataclass(frozen=True)
class Finding:
    """One test's subject outcome next to its reference outcomes."""

    subject: str
    test: str
    result: TestResult
    references: Mapping[str, str]  # reference column -> outcome, where it ran
    why: str = ""  # how the judgement was reached, when not obvious from the outcomes


@dataclass
class Comparison:
    """The result of comparing one subject column with its references."""

    subject: str
    references: tuple[str, ...]
    regressions: list[Finding] = field(default_factory=list)
    shared_failures: list[Finding] = field(default_factory=list)
    skipped_only_here: list[Finding] = field(default_factory=list)
    passed_only_here: list[Finding] = field(default_factory=list)
    not_collected: list[str] = field(default_factory=list)
    tests: int = 0
    reference_tests: int = 0  # tests every reference run collected


def shared_in_run(result: TestResult, refs: Mapping[str, TestResult]) -> str | None:
    """Why a subject failure is shared with a reference in this run, or None."""
    failing = {name: ref for name, ref in refs.items() if ref.bad}
    if not failing:
        return None
    if not any(ref.good for ref in refs.values()):
        return f"failing on every reference that ran it ({', '.join(failing)})"
    same = [name for name, ref in failing.items() if same_way(ref, result)]
    if same:
        return f"failed the same way on {', '.join(same)} in this run"
    return None


def compare(
    subject: str,
    results: Column,
    references: Mapping[str, Column],
    excused: Mapping[str, str] | None = None,
    check_collection: bool = True,
) -> Comparison:
    """Classify every test the subject's run collected.

    Tests only some references have are backend-specific (anyio pins some to
    asyncio or trio) and are left out; tests every reference has but the subject
    lacks are `not_collected`. `excused` maps tests that rerunning in isolation
    showed to be shared failures to how it showed that. `check_collection` is
    False when some reference did not run: one reference alone cannot tell a
    backend-specific test from a generic one.
    """
    excused = excused or {}
    comparison = Comparison(subject, tuple(references))
    comparison.tests = len(results)
    if references and check_collection:
        common = set.intersection(*(set(column) for column in references.values()))
        comparison.reference_tests = len(common)
        comparison.not_collected = sorted(common - set(results))
    for test, result in sorted(results.items()):
        refs = reference_results(test, references)
        outcomes = {name: ref.outcome for name, ref in refs.items()}
        if result.bad:
            why = shared_in_run(result, refs) or excused.get(test)
            bucket = comparison.shared_failures if why else comparison.regressions
            bucket.append(Finding(subject, test, result, outcomes, why or ""))
        elif result.good:
            if refs and not any(ref.good for ref in refs.values()):
                comparison.passed_only_here.append(Finding(subject, test, result, outcomes))
        elif refs and all(ref.good for ref in refs.values()):
            comparison.skipped_only_here.append(Finding(subject, test, result, outcomes))
    return comparison


def compare_all(
    columns: Mapping[str, Column],
    pairs: Sequence[tuple[str, Sequence[str]]],
    excused: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Comparison]:
    """Compare each (subject, references) pair whose subject column was run.

    `excused` is per subject column, as `compare` takes it.
    """
    excused = excused or {}
    return [
        compare(subject, columns[subject], {ref: columns[ref] for ref in refs if ref in columns},
                excused.get(subject), check_collection=all(ref in columns for ref in refs))
        for subject, refs in pairs
        if subject in columns
    ]
