"""Rerun each unexplained pike failure in isolation, on pike and on the references.

A regression in a full run may be pike's, or the machine's: anyio has tests with
hard wall-clock limits (a pytest subprocess given 3 s) that fail under load on
every backend, yet only in the variant that happened to run at the worst moment.
So each regression the comparison could not excuse is run again, alone, in a new
pytest process per backend (the pike variant, and each reference variant of the
same test), all in the same moment of machine load. Then:

* pike passes            -> FLAKY: counts as passing but is listed, because
                            flakiness under pike is still worth a look;
* pike fails again, and a reference fails the same way (outcome and exception
  type)                  -> shared: the environment's, not pike's (listed);
* pike fails again, the references do not fail that way -> a confirmed regression.

Only a bounded number of tests is rerun: hundreds of failures are a broken
backend, not flakiness, and rerunning them would only delay the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

from conformance.compare import Comparison, reference_results, same_way, signature
from conformance.known import Known
from conformance.outcomes import (
    ERROR,
    FAILED,
    FLAKY,
    MISSING,
    TIMEOUT,
    RunResult,
    TestResult,
)

MAX_RERUNS = 30
RERUN_OUTCOMES = (FAILED, ERROR, TIMEOUT)  # unavailable/missing would only repeat


@dataclass
class Rerun:
    """One test to run again: the subject's variant and its reference variants."""

    column: str  # subject column
    test: str  # normalised id
    subject: tuple[str, str]  # (run name, node id)
    first: TestResult  # the outcome of the full run
    references: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (run, id)


def plan_reruns(
    comparisons: Sequence[Comparison],
    variants: Mapping[str, str],
    known: Known,
    runs: Iterable[RunResult],
    columns: Mapping[str, Mapping[str, TestResult]],
) -> list[Rerun]:
    """The regressions to rerun; empty when there are more than MAX_RERUNS."""
    run_of = {column: run.name for run in runs for column in run.columns}
    plan: list[Rerun] = []
    for comparison in comparisons:
        listed = known.get(variants[comparison.subject], {})
        references = {name: columns[name] for name in comparison.references if name in columns}
        for finding in comparison.regressions:
            result = finding.result
            if finding.test in listed or result.outcome not in RERUN_OUTCOMES \
                    or not result.nodeid or comparison.subject not in run_of:
                continue
            rerun = Rerun(comparison.subject, finding.test,
                          (run_of[comparison.subject], result.nodeid), result)
            for label, ref in reference_results(finding.test, references).items():
                column = label.split("[", 1)[0]
                if ref.nodeid and column in run_of:
                    rerun.references[label] = (run_of[column], ref.nodeid)
            plan.append(rerun)
    return plan if len(plan) <= MAX_RERUNS else []


@dataclass
class Judgement:
    """What the reruns showed, to fold back into the columns and comparisons."""

    flaky: list[tuple[str, str]] = field(default_factory=list)  # (column, test)
    shared: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> test -> why
    confirmed: list[tuple[str, str]] = field(default_factory=list)


def judge(
    plan: Sequence[Rerun],
    outcomes: Mapping[tuple[str, str], TestResult],
    columns: MutableMapping[str, dict[str, TestResult]],
) -> Judgement:
    """Apply the rules of the module docstring.

    `outcomes` maps (run name, node id) to the rerun's result; a variant that
    reported nothing counts as MISSING. Flaky tests are marked FLAKY in `columns`.
    """
    judgement = Judgement()
    for rerun in plan:
        again = outcomes.get(rerun.subject, TestResult(MISSING, "no result on rerun"))
        if again.good:
            message = (f"passed when rerun alone; first run {rerun.first.outcome}:"
                       f" {rerun.first.message}")
            columns[rerun.column][rerun.test] = TestResult(
                FLAKY, message, rerun.first.duration, rerun.first.nodeid)
            judgement.flaky.append((rerun.column, rerun.test))
            continue
        same = [label for label, key in rerun.references.items()
                if (ref := outcomes.get(key)) is not None and ref.bad
                and same_way(ref, again)]
        if same:
            kind = " ".join(part for part in signature(again) if part)
            judgement.shared.setdefault(rerun.column, {})[rerun.test] = (
                f"rerun alone, it failed the same way ({kind}) on {', '.join(same)} too")
        else:
            judgement.confirmed.append((rerun.column, rerun.test))
    return judgement
