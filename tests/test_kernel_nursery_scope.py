"""open_nursery(cancel_scope=...): the caller chooses the nursery's cancel scope."""

from __future__ import annotations

import math

import pytest

import pike
from pike import lowlevel
from pike.testing import MockClock


class TaggedScope(pike.CancelScope):
    """A subclass a library might layer over pike's scope."""

    __slots__ = ("tag",)

    def __init__(self, tag: str, *, deadline: float = math.inf) -> None:
        super().__init__(deadline=deadline)
        self.tag = tag


def test_nursery_uses_the_given_scope_object() -> None:
    seen: list[object] = []

    async def main() -> None:
        scope = TaggedScope("mine")
        async with pike.open_nursery(cancel_scope=scope) as nursery:
            seen.append(nursery.cancel_scope)
            nursery.start_soon(pike.sleep_forever)
            scope.cancel()
        seen.append(scope.cancelled_caught)

    pike.run(main)
    assert isinstance(seen[0], TaggedScope) and seen[0].tag == "mine"
    assert seen[1] is True


def test_given_scope_deadline_cancels_body_and_children() -> None:
    finished: list[str] = []

    async def child() -> None:
        try:
            await pike.sleep_forever()
        finally:
            finished.append("child")

    async def main() -> None:
        scope = pike.CancelScope(relative_deadline=5)
        async with pike.open_nursery(cancel_scope=scope) as nursery:
            nursery.start_soon(child)
            await pike.sleep_forever()
        finished.append(f"caught={scope.cancelled_caught}")
        assert math.isinf(pike.current_effective_deadline())

    pike.run(main, clock=MockClock(autojump_threshold=0))
    assert finished == ["child", "caught=True"]


def test_default_is_a_fresh_plain_scope_each_time() -> None:
    scopes: list[pike.CancelScope] = []

    async def main() -> None:
        for _ in range(2):
            async with pike.open_nursery() as nursery:
                scopes.append(nursery.cancel_scope)

    pike.run(main)
    assert type(scopes[0]) is pike.CancelScope
    assert scopes[0] is not scopes[1]


@pytest.mark.parametrize("bad", [object(), "scope", 3.0])
def test_wrong_type_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match=r"cancel_scope must be a pike\.CancelScope"):
        pike.open_nursery(cancel_scope=bad)  # type: ignore[arg-type]  # wrong on purpose


def test_already_entered_scope_is_rejected() -> None:
    async def main() -> None:
        with pike.CancelScope() as scope, pytest.raises(RuntimeError, match="never entered"):
            pike.open_nursery(cancel_scope=scope)
        with pytest.raises(RuntimeError, match="never entered"):
            pike.open_nursery(cancel_scope=scope)

    pike.run(main)


def test_same_scope_cannot_serve_two_nurseries() -> None:
    async def main() -> None:
        scope = pike.CancelScope()
        first = pike.open_nursery(cancel_scope=scope)
        second = pike.open_nursery(cancel_scope=scope)  # accepted: not entered yet
        async with first:
            with pytest.raises(RuntimeError, match="single 'with' block"):
                async with second:
                    pass
        await lowlevel.checkpoint()

    pike.run(main)
