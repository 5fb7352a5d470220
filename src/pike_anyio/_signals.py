"""anyio's signal receiver: pike's, yielding ``signal.Signals`` members."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from signal import Signals

import pike


class _SignalIterator:
    __slots__ = ("_receiver",)

    def __init__(self, receiver: AsyncIterator[int]) -> None:
        self._receiver = receiver

    def __aiter__(self) -> _SignalIterator:
        return self

    async def __anext__(self) -> Signals:
        return Signals(await self._receiver.__anext__())


@contextmanager
def open_signal_receiver(*signals: Signals) -> Iterator[_SignalIterator]:
    with pike.open_signal_receiver(*signals) as receiver:
        yield _SignalIterator(receiver.__aiter__())
