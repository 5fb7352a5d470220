"""anyio's CancelScope *is* pike's CancelScope.

pike's scope already has anyio's whole interface (``cancel(reason)``, deadline,
shield, ``cancel_called``, ``cancelled_caught``); the subclass only adds anyio's
abstract class as a second base, so ``isinstance(scope, anyio.CancelScope)``
holds, and replaces anyio's ``__new__`` (which would ask the backend for a scope,
i.e. come back here). No wrapper object, no forwarding: every method call is
pike's own. A task group's scope is one of these too: it is made here and handed
to ``pike.open_nursery(cancel_scope=...)``.
"""

from __future__ import annotations

import math

import anyio

import pike


# mypy sees the two bases declare the same attributes (deadline, shield, ...) with
# different kinds (slots/properties vs anyio's abstract properties); pike's win by MRO.
class CancelScope(pike.CancelScope, anyio.CancelScope):  # type: ignore[misc]  # see above
    __slots__ = ()

    def __new__(cls, *, deadline: float = math.inf, shield: bool = False) -> CancelScope:
        return object.__new__(cls)

    # __init__ is pike's own (anyio calls it twice: once from the backend's
    # create_cancel_scope, once more from anyio.CancelScope.__new__'s caller).
