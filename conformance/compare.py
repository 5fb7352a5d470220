"""Compare a subject column (pike) with reference columns (asyncio, trio), test by test.

Pure functions over outcomes, so the rules are easy to check in isolation:

* regression: the subject fails (failed, error, timeout, unavailable, missing)
  while some reference passes it, or while no reference fails it (a test that
  only pike runs, or that every reference skips, has nothing to excuse it);
* broken everywhere: the subject fails and so do the references (no reference
  passes it): the machine or the test is at fault, not pike (this machine has
  no IPv6 `localhost`, for one);
* skipped only by the subject, and passed only by the subject: worth a look,
  never gating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from conformance.outcomes import TestResult

Column = Mapping[str, TestResult]


@dataclass(frozen=True)
class Finding:
    """One test's subject outcome next to its reference outcomes."""

    subject: str
    test: str
    result: TestResult
    references: Mapping[str, str]  # reference column -> outcome, where it ran


@dataclass
class Comparison:
    """The result of comparing one subject column with its references."""

    subject: str
    references: tuple[str, ...]
    regressions: list[Finding] = field(default_factory=list)
    broken_everywhere: list[Finding] = field(default_factory=list)
    skipped_only_here: list[Finding] = field(default_factory=list)
    passed_only_here: list[Finding] = field(default_factory=list)
    tests: int = 0


def compare(subject: str, results: Column, references: Mapping[str, Column]) -> Comparison:
    """Classify every test the subject's run collected.

    Tests only a reference has are backend-specific (anyio pins some to asyncio
    or trio) and are left out. A test the subject's run collected but never
    finished is already MISSING in `results`; a run that collected nothing at
    all is caught by the gate, which compares column sizes.
    """
    comparison = Comparison(subject, tuple(references))
    comparison.tests = len(results)
    for test, result in sorted(results.items()):
        refs = {name: column[test] for name, column in references.items() if test in column}
        finding = Finding(subject, test, result, {name: ref.outcome for name, ref in refs.items()})
        any_good = any(ref.good for ref in refs.values())
        any_bad = any(ref.bad for ref in refs.values())
        if result.bad:
            if any_good or not any_bad:
                comparison.regressions.append(finding)
            else:
                comparison.broken_everywhere.append(finding)
        elif result.good:
            if refs and not any_good:
                comparison.passed_only_here.append(finding)
        elif refs and all(ref.good for ref in refs.values()):
            comparison.skipped_only_here.append(finding)
    return comparison


def compare_all(
    columns: Mapping[str, Column], pairs: Sequence[tuple[str, Sequence[str]]]
) -> list[Comparison]:
    """Compare each (subject, references) pair whose subject column was run."""
    return [
        compare(subject, columns[subject], {ref: columns[ref] for ref in refs if ref in columns})
        for subject, refs in pairs
        if subject in columns
    ]
