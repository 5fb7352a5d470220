"""RunVar: a variable whose value is local to one run (trio's RunVar)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from . import _state

T = TypeVar("T")
_NO_DEFAULT: Any = object()


class RunVarToken(Generic[T]):
    __slots__ = ("_old", "_redeemed", "_var")

    def __init__(self, var: RunVar[T], old: Any) -> None:
        self._var = var
        self._old = old
        self._redeemed = False


class RunVar(Generic[T]):
    """Like a ContextVar, but scoped to the current ``pike.run``."""

    __slots__ = ("_default", "_name")

    def __init__(self, name: str, default: T = _NO_DEFAULT) -> None:
        self._name = name
        self._default = default

    def get(self, default: T = _NO_DEFAULT) -> T:
        runvars = _state.runner().runvars
        try:
            return cast(T, runvars[self])
        except KeyError:
            if default is not _NO_DEFAULT:
                return default
            if self._default is not _NO_DEFAULT:
                return self._default
            raise LookupError(self) from None

    def set(self, value: T) -> RunVarToken[T]:
        runvars = _state.runner().runvars
        token = RunVarToken(self, runvars.get(self, _NO_DEFAULT))
        runvars[self] = value
        return token

    def reset(self, token: RunVarToken[T]) -> None:
        if token._var is not self:
            raise ValueError("token belongs to a different RunVar")
        if token._redeemed:
            raise ValueError("token has already been used")
        token._redeemed = True
        runvars = _state.runner().runvars
        if token._old is _NO_DEFAULT:
            runvars.pop(self, None)
        else:
            runvars[self] = token._old

    def __repr__(self) -> str:
        return f"<pike.lowlevel.RunVar {self._name!r}>"
