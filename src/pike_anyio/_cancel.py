"""anyio's CancelScope *is* pike's CancelScope.

pike's scope already has anyio's whole interface (``cancel(reason)``, deadline,
shield, ``cancel_called``, ``cancelled_caught``); the subclass only adds anyio's
abstract class as a second base, so ``isinstance(scope, anyio.CancelScope)``
holds, and replaces anyio's ``__new__`` (which would ask the backend for a scope,
i.e. come back here). No wrapper object, no forwarding: every method call is
pike's own.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any

import anyio

import pike

from ._compat import INSTANCES_RECLASSABLE


class CancelScope(pike.CancelScope, anyio.CancelScope):  # type: ignore[misc]
    __slots__ = ()

    def __new__(cls, *, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        return object.__new__(cls)

    # __init__ is pike's own (anyio calls it twice: once from the backend's
    # create_cancel_scope, once more from anyio.CancelScope.__new__'s caller).


class _ScopeView(anyio.CancelScope):
    """An anyio CancelScope showing a pike scope, for anyio < 4.14 (see ``_compat``).

    Every read and write goes to the pike scope, so cancelling the view cancels
    the nursery, and the view reports what the nursery's scope saw.
    """

    def __new__(cls, scope: pike.CancelScope) -> _ScopeView:
        return object.__new__(cls)

    def __init__(self, scope: pike.CancelScope) -> None:
        self._scope = scope

    def cancel(self, reason: str | None = None) -> None:
        self._scope.cancel(reason)

    @property
    def deadline(self) -> float:
        return self._scope.deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._scope.deadline = value

    @property
    def shield(self) -> bool:
        return self._scope.shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self._scope.shield = value

    @property
    def cancel_called(self) -> bool:
        return self._scope.cancel_called

    @property
    def cancelled_caught(self) -> bool:
        return self._scope.cancelled_caught

    def __enter__(self) -> _ScopeView:
        self._scope.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        return self._scope.__exit__(exc_type, exc_val, exc_tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scope, name)


def adopt(scope: pike.CancelScope) -> anyio.CancelScope:
    """Make a scope pike created (a nursery's) an anyio CancelScope, in place.

    WORKAROUND until pike's nursery lets its caller choose the scope's class:
    ``open_nursery()`` creates its own ``pike.CancelScope``; the subclass adds no
    state (``__slots__ = ()``), so switching the instance's class is safe and costs
    nothing. Remove once the kernel lets the caller choose the scope's class.
    """
    if not INSTANCES_RECLASSABLE:
        return _ScopeView(scope)
    scope.__class__ = CancelScope
    return scope  # type: ignore[return-value]
