"""Fixtures shared by pike's test modules."""

from __future__ import annotations

import pytest

from pike._notifier import available_notifiers, notifier_by_name


@pytest.fixture(params=available_notifiers())
def notifier(request: pytest.FixtureRequest) -> str:
    """The name of each notifier this platform offers; a test runs once per notifier."""
    name: str = request.param
    try:
        notifier_by_name(name).close()
    except ImportError as exc:
        pytest.skip(f"the {name!r} notifier cannot be used here ({exc})")
    return name
