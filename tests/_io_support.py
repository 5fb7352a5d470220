"""Shared helpers for the I/O tests: run on every notifier, count open fds."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pike
from pike._notifier import available_notifiers
from pike._notifier.poll import PollNotifier

# Every notifier this platform has, plus poll's select() fallback.
NOTIFIERS = [*available_notifiers(), "select"]

Runner = Callable[..., Any]


def make_runner(name: str) -> Runner:
    def run(async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        notifier: Any = PollNotifier(use_select=True) if name == "select" else name
        return pike.run(async_fn, *args, notifier=notifier)

    return run


@pytest.fixture(params=NOTIFIERS)
def run(request: pytest.FixtureRequest) -> Runner:
    return make_runner(request.param)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class FdLeakCheck:
    """``with FdLeakCheck(): ...`` fails if the block leaves fds open."""

    def __enter__(self) -> FdLeakCheck:
        self.before = open_fds()
        return self

    def __exit__(self, *exc: object) -> None:
        after = open_fds()
        assert after == self.before, f"fd leak: {self.before} open before, {after} after"
