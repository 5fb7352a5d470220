"""enable_ki_protection / disable_ki_protection / currently_ki_protected (trio's contract)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator

import pytest

import pike
from pike.lowlevel import (
    currently_ki_protected,
    disable_ki_protection,
    enable_ki_protection,
    spawn_system_task,
)


@enable_ki_protection
def protected_sync() -> bool:
    return currently_ki_protected()


@disable_ki_protection
def unprotected_sync() -> bool:
    return currently_ki_protected()


@enable_ki_protection
def protected_calls_unprotected() -> tuple[bool, bool]:
    return currently_ki_protected(), unprotected_sync()


def plain() -> bool:
    return currently_ki_protected()


@enable_ki_protection
def protected_calls_plain() -> bool:
    return plain()  # protection is inherited by what it calls


@enable_ki_protection
async def protected_async() -> bool:
    await pike.lowlevel.checkpoint()
    return currently_ki_protected()


@enable_ki_protection
def protected_gen() -> Iterator[bool]:
    yield currently_ki_protected()


@enable_ki_protection
async def protected_agen() -> AsyncGenerator[bool, None]:
    await pike.lowlevel.checkpoint()
    yield currently_ki_protected()


class Holder:
    @enable_ki_protection
    def method(self) -> bool:
        return currently_ki_protected()


def test_outside_a_run_nothing_is_protected() -> None:
    assert currently_ki_protected() is False
    assert protected_sync() is True
    assert unprotected_sync() is False


def test_each_kind_of_function_inside_a_user_task() -> None:
    async def main() -> dict[str, object]:
        agen = protected_agen()
        results = {
            "task": currently_ki_protected(),
            "sync": protected_sync(),
            "async": await protected_async(),
            "gen": next(protected_gen()),
            "agen": await agen.__anext__(),
            "nested": protected_calls_unprotected(),
            "inherited": protected_calls_plain(),
            "method": Holder().method(),
            "plain": plain(),
        }
        await agen.aclose()
        return results

    assert pike.run(main) == {
        "task": False,
        "sync": True,
        "async": True,
        "gen": True,
        "agen": True,
        "nested": (True, False),
        "inherited": True,
        "method": True,
        "plain": False,
    }


def test_tasks_take_the_protection_of_their_function() -> None:
    seen: dict[str, bool] = {}

    async def record(name: str) -> None:
        seen[name] = currently_ki_protected()

    async def main() -> None:
        spawn_system_task(record, "system")
        async with pike.open_nursery() as nursery:
            nursery.start_soon(record, "child")
            nursery.start_soon(enable_ki_protection(record), "protected child")
        await pike.sleep(0)
        await pike.sleep(0)

    pike.run(main)
    assert seen == {"system": True, "child": False, "protected child": True}


def test_from_thread_run_functions_are_not_protected() -> None:
    async def report() -> bool:
        await pike.lowlevel.checkpoint()
        return currently_ki_protected()

    async def main() -> bool:
        return await pike.to_thread.run_sync(pike.from_thread.run, report)

    assert pike.run(main) is False


def test_decorating_keeps_name_and_is_per_function() -> None:
    def f() -> bool:
        return currently_ki_protected()

    g = enable_ki_protection(f)
    assert g.__name__ == "f"
    assert g() is True
    assert f() is False  # the original is left alone


def test_bad_input_is_refused() -> None:
    with pytest.raises(TypeError):
        enable_ki_protection(42)  # type: ignore[type-var]  # wrong on purpose
