"""The fuzzed programs: a tiny structured-concurrency language as frozen dataclasses.

A program is data, not code, so that one interpreter can run it on pike and on trio,
hypothesis can shrink it, and a failure can be printed as readable pseudo code. There
are no loops: every statement runs at most once, so a statement's label names one
event in one task's trace.

Scopes, events, locks and the semaphore are created before the run starts (so that
one task can cancel, re-deadline or re-shield a scope another task has not entered
yet); statements refer to them by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

Block = tuple["Stmt", ...]


@dataclass(frozen=True)
class Sleep:
    seconds: int


@dataclass(frozen=True)
class Checkpoint:
    """``lowlevel.checkpoint()``: a schedule point that raises if cancelled."""


@dataclass(frozen=True)
class CheckpointIfCancelled:
    """``lowlevel.checkpoint_if_cancelled()``: raises if cancelled, need not yield."""


@dataclass(frozen=True)
class ReadEffectiveDeadline:
    """Logs ``current_effective_deadline()`` (-inf once cancelled; shields cut it off)."""


@dataclass(frozen=True)
class Raise:
    tag: str


@dataclass(frozen=True)
class Nursery:
    body: Block


@dataclass(frozen=True)
class Spawn:
    """``nursery.start_soon(task)`` into the innermost enclosing nursery.

    The task's own code may use that nursery too (spawn siblings, cancel it), as
    real code that is handed its nursery does.
    """

    task: str
    body: Block


@dataclass(frozen=True)
class Start:
    """``await nursery.start(task)``; the task runs ``pre``, then maybe ``started()``."""

    task: str
    pre: Block
    post: Block
    calls_started: bool = True


@dataclass(frozen=True)
class Scope:
    """``with <scope>:`` where the scope was made with these arguments before the run.

    ``deadline`` is absolute (virtual time; runs start at 0) unless ``relative``, when
    it is ``relative_deadline``: counted from when the scope is entered.
    """

    scope: str
    body: Block
    deadline: int | None = None
    shield: bool = False
    relative: bool = False


@dataclass(frozen=True)
class FailAfter:
    seconds: int
    body: Block


@dataclass(frozen=True)
class Cancel:
    scope: str


@dataclass(frozen=True)
class CancelNursery:
    """``nursery.cancel_scope.cancel()`` on the innermost nursery the code runs in (for a
    task's own code: the nursery it was spawned into)."""


@dataclass(frozen=True)
class SetDeadline:
    """``scope.deadline = current_time() + offset``; a negative offset is in the past.

    With ``relative``: ``scope.relative_deadline = offset`` (offset >= 0).
    """

    scope: str
    offset: int
    relative: bool = False


@dataclass(frozen=True)
class SetShield:
    scope: str
    shield: bool


@dataclass(frozen=True)
class ReadCancelCalled:
    scope: str


@dataclass(frozen=True)
class SetEvent:
    event: str


@dataclass(frozen=True)
class WaitEvent:
    event: str


@dataclass(frozen=True)
class WithLock:
    lock: str
    body: Block


@dataclass(frozen=True)
class WithSemaphore:
    body: Block


@dataclass(frozen=True)
class WithLimiter:
    """``async with limiter:`` (a CapacityLimiter; re-entering it in one task is an error)."""

    body: Block


@dataclass(frozen=True)
class ConditionWait:
    """``async with cv: await cv.wait()``."""


@dataclass(frozen=True)
class ConditionNotify:
    """``async with cv: cv.notify_all()`` (or ``cv.notify()``: wakes the longest waiter)."""

    all: bool


@dataclass(frozen=True)
class ChannelSend:
    """``await tx.send(label)`` on the program's one memory channel."""


@dataclass(frozen=True)
class ChannelReceive:
    """``await rx.receive()``; logs what it got (a sender's statement label)."""


@dataclass(frozen=True)
class ChannelClose:
    """``tx.close()`` (``end == "send"``) or ``rx.close()``."""

    end: str


@dataclass(frozen=True)
class ChannelNowait:
    """``tx.send_nowait(label)`` (``end == "send"``) or ``rx.receive_nowait()``."""

    end: str


@dataclass(frozen=True)
class TryFinally:
    """``try: body finally: cleanup``, the cleanup optionally in a shielded scope.

    A shielded cleanup always has a finite deadline, so a program cannot block
    forever where the watchdog cannot reach it.
    """

    body: Block
    cleanup: Block
    shield_deadline: int | None = None


@dataclass(frozen=True)
class TryExcept:
    """``try: body except* Boom`` (or ``except Boom`` when not ``star``); logs what it caught."""

    body: Block
    star: bool = True


@dataclass(frozen=True)
class Observe:
    """``try: body except BaseException as e: log(e); raise``: makes in-flight errors visible."""

    body: Block


Stmt = (
    Sleep
    | Checkpoint
    | CheckpointIfCancelled
    | ReadEffectiveDeadline
    | Raise
    | Nursery
    | Spawn
    | Start
    | Scope
    | FailAfter
    | Cancel
    | CancelNursery
    | SetDeadline
    | SetShield
    | ReadCancelCalled
    | SetEvent
    | WaitEvent
    | WithLock
    | WithSemaphore
    | WithLimiter
    | ConditionWait
    | ConditionNotify
    | ChannelSend
    | ChannelReceive
    | ChannelClose
    | ChannelNowait
    | TryFinally
    | TryExcept
    | Observe
)

EVENTS = ("e0", "e1")
LOCKS = ("l0",)


@dataclass(frozen=True)
class ScopeSpec:
    deadline: int | None
    shield: bool
    relative: bool


@dataclass(frozen=True)
class Program:
    body: Block
    semaphore_value: int = 1
    limiter_tokens: int = 1
    channel_buffer: int = 0
    # Filled in from body by ``scope_specs``; kept out of equality.
    _specs: dict[str, ScopeSpec] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def scope_specs(self) -> dict[str, ScopeSpec]:
        """The arguments each named scope is made with, in order of appearance."""
        if not self._specs:
            for stmt in walk(self.body):
                if isinstance(stmt, Scope):
                    self._specs[stmt.scope] = ScopeSpec(stmt.deadline, stmt.shield, stmt.relative)
        return self._specs


def children(stmt: Stmt) -> Iterator[Block]:
    """The nested blocks of ``stmt``, in source order."""
    if isinstance(
        stmt, (Nursery, Spawn, Scope, FailAfter, WithLock, WithSemaphore, WithLimiter, Observe)
    ):
        yield stmt.body
    elif isinstance(stmt, Start):
        yield stmt.pre
        yield stmt.post
    elif isinstance(stmt, TryFinally):
        yield stmt.body
        yield stmt.cleanup
    elif isinstance(stmt, TryExcept):
        yield stmt.body


def walk(block: Block) -> Iterator[Stmt]:
    """Every statement in ``block``, preorder."""
    for stmt in block:
        yield stmt
        for inner in children(stmt):
            yield from walk(inner)


def shape(program: Program) -> tuple[object, ...]:
    """The program with constants and names erased: what counts as a distinct shape."""

    def block_shape(block: Block) -> tuple[object, ...]:
        return tuple(
            (type(stmt).__name__, *(block_shape(inner) for inner in children(stmt)))
            for stmt in block
        )

    return block_shape(program.body)
