"""CI mode of stress.threads_signals: each scenario once, each its own test."""

from __future__ import annotations

import pytest

from stress.threads_signals import SCENARIOS


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_threads_signals_scenario(name: str) -> None:
    print(SCENARIOS[name]())
