"""CI mode of stress.cancel_injection: cancel the echo program at every checkpoint."""

from __future__ import annotations

import pytest

import pike
from stress import cancel_injection
from stress.cancel_injection import CI_SHAPE, Injector, Outcome, Shape, sweep


@pytest.mark.parametrize("flavour", ["pike", "anyio"])
def test_cancel_at_every_checkpoint(flavour: str) -> None:
    report = sweep(flavour, CI_SHAPE)
    print(report.summary())
    assert report.failures == []
    # The sweep really cancelled the program all the way through, and ran past the end.
    assert report.checkpoints > 30
    assert report.fired >= report.checkpoints - 1
    assert report.completed >= 1
    assert report.bytes_verified == CI_SHAPE.clients * CI_SHAPE.messages * CI_SHAPE.size


def test_injector_cancels_at_exactly_the_kth_trap() -> None:
    hits: list[int] = []

    async def steps() -> None:
        for i in range(10):
            await pike.lowlevel.checkpoint()
            hits.append(i)

    async def main(inj: Injector) -> None:
        with pike.CancelScope() as scope:
            inj.scope = scope
            await inj.wrap(steps)()

    inj = Injector(4)
    pike.run(main, inj)
    assert inj.fired and hits == [0, 1, 2]


def test_sweep_notices_a_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks can fail: a program that leaks a socket when cancelled is caught."""
    leaked: list[pike.socket.SocketType] = []
    original = cancel_injection._pike_program

    async def leaky(inj: Injector, shape: Shape, out: Outcome) -> None:
        sock = pike.socket.socket()
        await original(inj, shape, out)
        if inj.fired:
            leaked.append(sock)  # "forgets" to close it when cancelled
        else:
            sock.close()

    monkeypatch.setattr(cancel_injection, "_pike_program", leaky)
    report = sweep("pike", Shape(clients=1, messages=1, size=10), stride=5)
    for sock in leaked:
        sock.close()
    assert leaked and report.failures, "a leaked socket went unnoticed"
    assert all("fds" in failure for failure in report.failures)
