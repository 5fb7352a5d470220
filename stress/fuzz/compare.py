"""Differential check: is pike's observation one that trio can produce?

pike is deterministic; trio is not (batch order, and the order of sets it iterates).
So trio is sampled: a few schedules first (``trio_schedules``: FIFO, then shuffles and
reverse-or-not flips, each seeded, so a failure replays exactly), and only when pike's
observation is none of those, many more before calling it a difference. A program
whose trio samples disagree with each other is *racy*: its result depends on
scheduling order, and pike may legitimately pick any of trio's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .backends import PIKE, Backend, trio_backend, trio_schedules
from .interpreter import Observation, observe
from .program import Program, shape
from .render import render, render_observation

FIRST_SAMPLES = 3
MAX_SAMPLES = 120


@dataclass
class Stats:
    """Figures for one fuzzing session."""

    programs: int = 0
    shapes: set[tuple[object, ...]] = field(default_factory=set)
    racy: int = 0
    escalated: int = 0
    failures: int = 0
    pike_runs: int = 0
    trio_runs: int = 0
    trio_violations: int = 0  # must stay 0, or the oracle's rule is wrong

    def summary(self) -> str:
        return (
            f"programs run: {self.programs}, distinct shapes: {len(self.shapes)}, "
            f"racy (trio's own samples differ): {self.racy}, "
            f"needed extra trio samples: {self.escalated}, failures: {self.failures}, "
            f"runs: pike {self.pike_runs}, trio {self.trio_runs}, "
            f"oracle breaches on trio: {self.trio_violations}"
        )


@dataclass(frozen=True)
class Verdict:
    program: Program
    pike: Observation
    trio: dict[Observation, str]  # observation -> first schedule that produced it
    samples: int

    @property
    def ok(self) -> bool:
        return self.pike in self.trio and not self.pike.violations()

    def report(self) -> str:
        closest = max(self.trio, key=lambda obs: _similarity(self.pike, obs))
        differing = [
            task
            for task in sorted({t for t, _ in self.pike.traces} | {t for t, _ in closest.traces})
            if self.pike.trace_of(task) != closest.trace_of(task)
        ]
        headline = (
            "pike broke the cancellation rule (VIOLATION below)."
            if self.pike.violations()
            else "pike's observation is not one trio produced "
            f"({self.samples} trio runs, {len(self.trio)} distinct observations)."
        )
        parts = [
            headline,
            "",
            "Program:",
            render(self.program),
            "",
            "pike:",
            render_observation(self.pike),
            "",
            f"trio, closest observation (schedule {self.trio[closest]}):",
            render_observation(closest),
            "",
            f"outcome differs: {self.pike.outcome != closest.outcome}; "
            f"tasks whose traces differ: {', '.join(differing) or 'none'}",
        ]
        return "\n".join(parts)


def _similarity(a: Observation, b: Observation) -> int:
    score = 2 if a.outcome == b.outcome else 0
    return score + sum(1 for task, trace in a.traces if b.trace_of(task) == trace)


def check(
    program: Program,
    stats: Stats | None = None,
    *,
    subject: Backend = PIKE,
    first_samples: int = FIRST_SAMPLES,
    max_samples: int = MAX_SAMPLES,
) -> Verdict:
    """Run ``program`` on ``subject`` (pike) and on trio; see the module doc."""
    subject_obs = observe(subject, program)
    seen: dict[Observation, str] = {}
    samples = 0
    for schedule in trio_schedules(0, first_samples):
        obs = observe(trio_backend(schedule), program)
        seen.setdefault(obs, str(schedule))
        samples += 1
    racy = len(seen) > 1
    escalated = subject_obs not in seen
    if escalated:
        for schedule in trio_schedules(first_samples, max_samples - first_samples):
            obs = observe(trio_backend(schedule), program)
            seen.setdefault(obs, str(schedule))
            samples += 1
            if subject_obs in seen:
                break
        racy = len(seen) > 1
    verdict = Verdict(program, subject_obs, seen, samples)
    if stats is not None:
        stats.programs += 1
        stats.shapes.add(shape(program))
        stats.racy += racy
        stats.escalated += escalated
        stats.failures += not verdict.ok
        stats.pike_runs += 1
        stats.trio_runs += samples
        stats.trio_violations += sum(1 for obs in seen if obs.violations())
    return verdict
