"""The CI verdict: fail on new pike regressions, and on known failures that are fixed.

The known-failures list may only shrink: a listed test that now passes on pike
fails the gate until its entry is removed, so the list never hides a fix (or,
later, a new failure under an old name). Everything here is a pure function of
the comparisons, the list and the run summaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from conformance.compare import Comparison, Finding
from conformance.known import Known
from conformance.outcomes import RunResult, TestResult


@dataclass
class Verdict:
    """`ok` decides the exit code; `problems` say why not, `notes` are for information."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def gate(
    comparisons: Sequence[Comparison],
    variants: Mapping[str, str],
    columns: Mapping[str, Mapping[str, TestResult]],
    known: Known,
    runs: Sequence[RunResult],
    full_run: bool,
) -> Verdict:
    """Judge the comparisons.

    `variants` maps each compared subject column to its known-failures table
    ("none@pike" -> "pike"). `full_run` says the whole suite ran, so a listed
    test that no run reported is stale rather than merely unselected.
    """
    verdict = Verdict()
    for run in runs:
        if run.note:
            verdict.problems.append(f"run {run.name}: {run.note}")
        for error in run.collect_errors:
            verdict.problems.append(f"run {run.name}: collection error {error}")
    checked: dict[str, set[str]] = {}
    for comparison in comparisons:
        variant = variants[comparison.subject]
        sizes = {ref: len(columns.get(ref, {})) for ref in comparison.references}
        if comparison.tests == 0 and any(sizes.values()):
            verdict.problems.append(
                f"{comparison.subject} ran no tests while the references ran"
                f" {', '.join(f'{n} ({ref})' for ref, n in sizes.items())}"
            )
        listed = known.get(variant, {})
        checked.setdefault(variant, set()).update(columns.get(comparison.subject, {}))
        unexpected = [f for f in comparison.regressions if f.test not in listed]
        verdict.unexpected.extend(unexpected)
        if unexpected:
            verdict.problems.append(
                f"{len(unexpected)} unexpected regression(s) on {comparison.subject}"
                f" (of {len(comparison.regressions)}; {len(listed)} known)"
            )
        regressed = {f.test for f in comparison.regressions}
        for test in sorted(listed):
            result = columns.get(comparison.subject, {}).get(test)
            if result is None or test in regressed:
                continue
            if result.good:
                verdict.problems.append(
                    f"known failure now passes on {comparison.subject}: {test}"
                    f" -> remove it from known_failures.toml"
                )
            else:
                verdict.notes.append(
                    f"known failure is not a regression here ({result.outcome} on"
                    f" {comparison.subject}, failing on the references too): {test}"
                )
    if full_run:
        for variant, seen in checked.items():
            for test in sorted(set(known.get(variant, {})) - seen):
                verdict.problems.append(
                    f"known failure [{variant}] names no test that ran: {test}"
                    f" -> remove or rename it in known_failures.toml"
                )
    return verdict
