"""Exceptions that pike's public API raises.

``Cancelled`` has no public constructor: only the kernel may create one, so a
``Cancelled`` always means a cancel scope really did cancel the task (the same
rule as trio; anyio relies on it to tell its own cancellations apart).
"""

from __future__ import annotations

from typing import Any, NoReturn


class Cancelled(BaseException):
    """Raised at a checkpoint inside a cancelled cancel scope.

    Derives from ``BaseException`` so that ``except Exception`` does not swallow
    it by accident. Do not catch it without re-raising it.
    """

    reason: str | None
    # The name of the task that called cancel(), if a task did.
    canceller: str | None

    def __init__(self, *args: Any) -> None:
        raise TypeError("pike.Cancelled has no public constructor")

    @classmethod
    def _create(cls, reason: str | None = None, canceller: str | None = None) -> Cancelled:
        exc = BaseException.__new__(cls)
        BaseException.__init__(exc)
        exc.reason = reason
        exc.canceller = canceller
        return exc

    def __reduce__(self) -> NoReturn:
        raise TypeError("pike.Cancelled cannot be pickled")

    def __str__(self) -> str:
        text = "Cancelled" if self.reason is None else f"Cancelled: {self.reason}"
        if self.canceller is not None:
            text += f" (cancel() called by task {self.canceller!r})"
        return text


class TooSlowError(Exception):
    """Raised by ``fail_after``/``fail_at`` when the deadline expires."""


class BusyResourceError(Exception):
    """Two tasks tried to use a resource that only one can use at a time."""


class ClosedResourceError(Exception):
    """The resource was closed, possibly by another task while this one waited."""


class BrokenResourceError(Exception):
    """The resource is unusable because of an error on the other side."""


class WouldBlock(Exception):
    """A ``*_nowait`` operation would have had to block."""


class EndOfChannel(Exception):
    """The sending side of a channel was closed."""


class RunFinishedError(RuntimeError):
    """The run that a token belonged to has ended."""


class PikeInternalError(Exception):
    """A bug in pike (or a system task crashed); the run was aborted."""
