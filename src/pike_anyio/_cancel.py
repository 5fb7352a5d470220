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

import anyio

import pike


class CancelScope(pike.CancelScope, anyio.CancelScope):  # type: ignore[misc]
    __slots__ = ()

    def __new__(cls, *, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        return object.__new__(cls)

    # __init__ is pike's own (anyio calls it twice: once from the backend's
    # create_cancel_scope, once more from anyio.CancelScope.__new__'s caller).


def adopt(scope: pike.CancelScope) -> CancelScope:
    """Make a scope pike created (a nursery's) an anyio CancelScope, in place.

    WORKAROUND (kernel request "nursery scope class", /tmp/pike_kernel_requests.md):
    ``open_nursery()`` creates its own ``pike.CancelScope``; the subclass adds no
    state (``__slots__ = ()``), so switching the instance's class is safe and costs
    nothing. Remove once the kernel lets the caller choose the scope's class.
    """
    scope.__class__ = CancelScope
    return scope  # type: ignore[return-value]
