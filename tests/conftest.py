"""Fixtures shared by pike's test modules."""

from __future__ import annotations

import signal

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


def pytest_configure(config: pytest.Config) -> None:
    """Un-ignore SIGINT if this process inherited it ignored.

    A shell starts background jobs with SIGINT ignored, and an ignored signal
    stays ignored across exec: every child the Ctrl-C tests start would then
    shrug off the SIGINT they send and the tests would time out. Installing
    Python's own handler here makes children start with the default action.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
