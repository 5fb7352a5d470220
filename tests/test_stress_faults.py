"""CI mode of stress.faults: each fault scenario once, each its own test."""

from __future__ import annotations

import pytest

from stress.faults import SCENARIOS


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario(name: str) -> None:
    print(SCENARIOS[name]())
