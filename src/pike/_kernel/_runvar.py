"""RunVar: a variable whose value is local to one run.

Values live in the runner's ``runvars`` dict, keyed by the RunVar object, so a
new ``pike.run`` starts with none of them. A RunVar that has no value in this
run is a *miss*; ``_on_miss`` is the one place that decides what a miss gives:
the default passed to ``get()``, else the RunVar's own default, else LookupError.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, cast

from . import _state

T = TypeVar("T")


class _Unset:
    """Marks "no value": no default given, or no value before a ``set()``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset()


class RunVarToken(Generic[T]):
    """What ``RunVar.set`` returns: enough to undo that one ``set`` with ``reset``."""

    __slots__ = ("_previous", "_redeemed", "_var")

    def __init__(self, var: RunVar[T], previous: T | _Unset) -> None:
        self._var = var
        self._previous = previous
        self._redeemed = False


class RunVar(Generic[T]):
    """Like a ContextVar, but scoped to the current ``pike.run``."""

    __slots__ = ("_default", "_name")

    def __init__(self, name: str, default: T | _Unset = UNSET) -> None:
        self._name = name
        self._default = default

    def get(self, default: T | _Unset = UNSET) -> T:
        found: object = _state.runner().runvars.get(self, UNSET)
        if found is UNSET:
            return self._on_miss(default)
        return cast(T, found)

    def _on_miss(self, default: T | _Unset) -> T:
        if not isinstance(default, _Unset):
            return default
        if not isinstance(self._default, _Unset):
            return self._default
        raise LookupError(self)

    def set(self, value: T) -> RunVarToken[T]:
        runvars: dict[Any, Any] = _state.runner().runvars
        token = RunVarToken(self, runvars.get(self, UNSET))
        runvars[self] = value
        return token

    def reset(self, token: RunVarToken[T]) -> None:
        if token._var is not self:
            raise ValueError("token belongs to a different RunVar")
        if token._redeemed:
            raise ValueError("token has already been used")
        token._redeemed = True
        runvars = _state.runner().runvars
        if isinstance(token._previous, _Unset):
            runvars.pop(self, None)
        else:
            runvars[self] = token._previous

    def __repr__(self) -> str:
        return f"<pike.lowlevel.RunVar {self._name!r}>"
