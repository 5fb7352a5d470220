"""CI mode of stress.threads_signals: each scenario once, each its own test."""

from __future__ import annotations

import pytest

from stress.threads_signals import SCENARIOS

# Scenarios that reproduce open defects. They run (XPASS once fixed: then drop the mark)
# but do not gate CI until the fix is on main.
KNOWN_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_DEFECTS[name], strict=False))
        if name in KNOWN_DEFECTS
        else name
        for name in SCENARIOS
    ],
)
def test_threads_signals_scenario(name: str) -> None:
    print(SCENARIOS[name]())
