"""One fuzzing session: hypothesis generates, ``check`` compares, ``minimise`` finishes.

Shared by the CI test (few hundred programs, derandomised) and the long mode.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from .backends import PIKE, Backend
from .compare import MAX_SAMPLES, Stats, check
from .generate import DEFAULT_FEATURES, Features, programs
from .minimise import minimise
from .program import Program, walk


def fuzz(
    examples: int,
    stats: Stats,
    *,
    features: Features = DEFAULT_FEATURES,
    seed: int | None = None,
    derandomize: bool = False,
    subject: Backend = PIKE,
    shrink: bool = True,
    max_samples: int = MAX_SAMPLES,
) -> Program | None:
    """Run up to ``examples`` programs; return the minimal failing one, or None."""
    failing: list[Program] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate, Phase.shrink] if shrink else [Phase.generate],
        # Programs are nested structures drawn from many choices, so hypothesis' size
        # and speed health checks fire on healthy runs; max_examples bounds the work.
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(programs(features))
    def differential(program: Program) -> None:
        if not check(program, stats, subject=subject, max_samples=max_samples).ok:
            failing.append(program)
            raise AssertionError("pike differs from trio")

    if seed is not None:
        differential = hypothesis_seed(seed)(differential)
    try:
        differential()
    except AssertionError:
        pass
    if not failing:
        return None
    smallest = min(failing, key=lambda p: sum(1 for _ in walk(p.body)))
    if not shrink:
        return smallest
    return minimise(
        smallest, lambda p: not check(p, subject=subject, max_samples=max_samples).ok
    )
