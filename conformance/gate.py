"""The CI verdict: fail on pike regressions, on what pike's run hid, on fixed known failures.

A pike failure that a reference shares (in the same run, or when rerun alone;
see `compare.py` and `rerun.py`) is the environment's and does not fail the gate;
a flake does not either, but both are listed in the report. What the gate cannot
see it does not excuse: a test every reference run collected that pike's run did
not, and a test skipped only on pike (every reference passed it), fail the gate
unless the skip is listed in known_failures.toml with its cause.

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
        elif comparison.not_collected:
            verdict.problems.append(
                f"{comparison.subject} collected {len(comparison.not_collected)} test(s) fewer"
                f" than every reference collected ({comparison.reference_tests}): first"
                f" {comparison.not_collected[0]}"
            )
        listed = known.get(variant, {})
        hidden = [f for f in comparison.skipped_only_here if f.test not in listed]
        if hidden:
            verdict.problems.append(
                f"{len(hidden)} test(s) skipped only on {comparison.subject} (every reference"
                f" passed them): first {hidden[0].test} ({hidden[0].result.message})"
            )
        checked.setdefault(variant, set()).update(columns.get(comparison.subject, {}))
        unexpected = [f for f in comparison.regressions if f.test not in listed]
        verdict.unexpected.extend(unexpected)
        if unexpected:
            verdict.problems.append(
                f"{len(unexpected)} unexpected regression(s) on {comparison.subject}"
                f" (of {len(comparison.regressions)}; {len(listed)} known)"
            )
        regressed = {f.test for f in comparison.regressions}
        regressed |= {f.test for f in comparison.skipped_only_here}
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
                    f" {comparison.subject}, not passing on the references either): {test}"
                )
    if full_run:
        for variant, seen in checked.items():
            for test in sorted(set(known.get(variant, {})) - seen):
                verdict.problems.append(
                    f"known failure [{variant}] names no test that ran: {test}"
                    f" -> remove or rename it in known_failures.toml"
                )
    return verdict
