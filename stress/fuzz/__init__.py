"""Differential fuzzing of pike against trio.

hypothesis generates small structured-concurrency programs (``program``,
``generate``), one interpreter runs each on pike and on trio under a mock clock
(``interpreter``, ``backends``), and ``compare`` checks that pike's per-task traces
and outcome are among those trio produces. A difference is shrunk (hypothesis, then
``minimise``) and printed as pseudo code (``render``).

CI mode: ``tests/test_stress_fuzz.py`` (500 derandomised programs).
Long mode: ``python -m stress.fuzz --examples 20000 [--seed N]``.

What is compared, and what is deliberately not:

- Per task, the sequence of events with virtual timestamps; the run's outcome as an
  exception type tree (group members sorted: their order is the order children
  finished). Not the interleaving *between* tasks at one virtual instant: that is the
  scheduler's freedom (trio randomises it), so a difference there is only caught when
  it changes some task's own trace or the outcome.
- Documented difference (README, "Semantics worth knowing"): a nursery whose only
  exceptions are Cancelled raises one Cancelled on pike and a group on trio; such
  groups are written as ``Cancelled`` on both sides (``interpreter.describe``).
- Known differences awaiting a fix are excluded from generation, each behind a
  ``Features`` switch with its cause written beside it (``generate.Features``);
  ``--with NAME`` turns one back on.
"""
