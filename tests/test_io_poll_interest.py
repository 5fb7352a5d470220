"""poll's interest set follows the waiters, cancelled ones included.

poll is level-triggered: an fd left in the set while ready but unwatched would
make every later wait return at once. The shared parking helpers know nothing
of poll's dirty set, so poll's handles mark it when a wait is aborted. Owned
handles (pike's pipes and sockets) are the case that matters: a transient
handle's public wait drops itself on the way out anyway.
"""

from __future__ import annotations

import os

import pytest

import pike
from pike._notifier.poll import PollNotifier


@pytest.mark.parametrize("use_select", [False, True])
@pytest.mark.parametrize("direction", ["read", "write"])
def test_cancelled_park_drops_poll_interest(use_select: bool, direction: str) -> None:
    notifier = PollNotifier(use_select=use_select)

    async def main() -> bool:
        r, w = os.pipe()
        reader, writer = pike.lowlevel.FdStream(r), pike.lowlevel.FdStream(w)
        async with reader, writer:
            if direction == "read":
                with pike.move_on_after(0.05):
                    await reader.receive_some(10)
            else:
                with pike.move_on_after(0.05):
                    while True:  # fills the pipe, then parks
                        await writer.send_all(b"x" * 65536)
            await pike.sleep(0.01)  # a blocking wait() pass flushes the dirty fds
            fd = r if direction == "read" else w
            interested_after_cancel = fd in notifier._registered
            # The stream still works afterwards.
            with pike.fail_after(30):  # hang guard only
                if direction == "read":
                    await writer.send_all(b"y")
                    assert await reader.receive_some(10) == b"y"
                else:
                    await reader.receive_some(65536)
                    await writer.send_all(b"z")
            return interested_after_cancel

    assert pike.run(main, notifier=notifier) is False
