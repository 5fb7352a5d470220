"""hypothesis strategies for fuzzed programs.

Generation keeps two promises the comparison relies on:

- **Every run ends.** The interpreter wraps the program in a watchdog scope with a
  far deadline; the only place it cannot reach is a shielded scope, so every shielded
  scope (and shielded cleanup) gets a finite deadline of its own, and ``SetShield(True)``
  only targets scopes made with one.
- **Names resolve.** Statements that name a scope draw an index that is resolved after
  the whole tree exists (so a task can cancel a scope another task enters later); with
  no scope at all, such a statement becomes a plain checkpoint.

Feature switches (``Features``) let a known semantic difference be excluded, with the
reason written where it is switched off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from hypothesis import strategies as st

from .program import (
    EVENTS,
    LOCKS,
    Block,
    Cancel,
    CancelNursery,
    ChannelClose,
    ChannelNowait,
    ChannelReceive,
    ChannelSend,
    Checkpoint,
    CheckpointIfCancelled,
    ConditionNotify,
    ConditionWait,
    FailAfter,
    Nursery,
    Observe,
    Program,
    Raise,
    ReadCancelCalled,
    ReadEffectiveDeadline,
    Scope,
    SetDeadline,
    SetEvent,
    SetShield,
    Sleep,
    Spawn,
    Start,
    Stmt,
    TryExcept,
    TryFinally,
    WaitEvent,
    WithLimiter,
    WithLock,
    WithSemaphore,
    children,
)

MAX_DEPTH = 3  # how deep block statements nest (task bodies count as a level)
MAX_BLOCK = 3  # statements per block (one more in main's)
SLEEPS = (0, 1, 2, 3, 5)
DEADLINES = (0, 1, 2, 3, 4, 6)
OFFSETS = (-1, 0, 1, 2, 4)
SWARM_KINDS = (
    "if_cancelled", "deadline_read", "raise", "cancel", "cancel_nursery", "deadline", "shield",
    "read", "set", "wait", "scope", "fail_after", "finally", "observe", "except", "lock",
    "semaphore", "limiter", "cv_wait", "cv_notify", "start", "send", "receive", "close",
    "nowait",
)
SCOPE_REFS = 4  # a reference draws one of this many indices, resolved modulo the count


@dataclass(frozen=True)
class Features:
    """Which statement kinds the generator may use.

    All are on by default; the three "optional" ones were once off while they
    triggered known differences (now fixed). ``--with NAME`` still names them.
    """

    start: bool = True
    cross_task_scope_ops: bool = True
    sync_primitives: bool = True
    except_star: bool = True
    # Formerly known differences, fixed in pike's kernel (issue 9 point 0f and the
    # fuzzer's findings); each has a minimal regression program in
    # tests/test_stress_fuzz.py. ``cancel_called`` checks the clock on read, as on trio.
    read_cancel_called: bool = True
    # Setting ``deadline`` on an unentered scope made with ``relative_deadline``
    # raises RuntimeError, as on trio (pike used to make it absolute silently).
    set_deadline_on_relative: bool = True
    # ``scope.relative_deadline = x`` is settable (relative to entry before the scope
    # is entered, to now after), as on trio.
    set_relative_deadline: bool = True


DEFAULT_FEATURES = Features()
OPTIONAL_FEATURES = (
    "read_cancel_called", "set_deadline_on_relative", "set_relative_deadline",
)



class _Builder:
    """Draws one program; counts tasks and scopes so names are unique."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], features: Features):
        self.draw = draw
        self.features = features
        self.tasks = 0
        self.scopes = 0
        # Swarm testing: each program uses a random subset of the optional kinds, so
        # that some programs concentrate on a few features and exercise their
        # interactions (three tasks on one lock) far more often than an even mix
        # would. Shrinking turns kinds off, which also simplifies the minimal program.
        self.swarm = frozenset(k for k in SWARM_KINDS if draw(st.booleans()))

    def block(self, depth: int, in_nursery: bool) -> Block:
        size = self.draw(st.integers(0, MAX_BLOCK + 1 if depth == 0 else MAX_BLOCK))
        out: list[Stmt] = []
        for _ in range(size):
            out.append(self.stmt(depth, in_nursery))
            if isinstance(out[-1], Raise):
                break  # anything after it would be dead code
        return tuple(out)

    def nursery_body(self, depth: int) -> Block:
        """A nursery body starts by spawning one to three children, then goes on."""
        count = self.draw(st.integers(1, 3))
        spawns = [
            self._make(self.draw(st.sampled_from(self._spawn_kinds())), depth, True)
            for _ in range(count)
        ]
        return (*spawns, *self.block(depth, True))

    def _spawn_kinds(self) -> list[str]:
        start = self.features.start and "start" in self.swarm
        return ["spawn", "spawn", "start"] if start else ["spawn"]

    def stmt(self, depth: int, in_nursery: bool) -> Stmt:
        # Repetition is weight; simple kinds first, since hypothesis shrinks a
        # choice towards the front of the list.
        f = self.features
        kinds = ["sleep"] * 4 + ["checkpoint"] * 2 + ["if_cancelled", "deadline_read", "raise"]
        if f.cross_task_scope_ops:
            kinds += ["cancel", "deadline", "shield"] * 2
        if f.read_cancel_called:
            kinds += ["read"]
        if f.sync_primitives:
            kinds += ["set", "wait"] * 2 + ["cv_wait", "cv_notify"]
            kinds += ["send", "send", "receive", "receive", "close", "nowait"]
        if depth < MAX_DEPTH:
            # Nurseries are where the interesting interactions start: weight them up
            # until one is open.
            kinds += ["nursery"] if in_nursery else ["nursery"] * 3
            kinds += ["scope"] * 3 + ["fail_after", "finally", "finally", "observe"]
            if f.except_star:
                kinds += ["except"]
            if f.sync_primitives:
                kinds += ["lock"] * 3 + ["semaphore"] * 2 + ["limiter"]
            if in_nursery:
                kinds += self._spawn_kinds() * 2
        if in_nursery:
            kinds += ["cancel_nursery"]
        kinds = [k for k in kinds if k in self.swarm or k not in SWARM_KINDS]
        kind = self.draw(st.sampled_from(kinds))
        return self._make(kind, depth, in_nursery)

    def _make(self, kind: str, depth: int, in_nursery: bool) -> Stmt:
        draw = self.draw
        inner = depth + 1
        if kind == "sleep":
            return Sleep(draw(st.sampled_from(SLEEPS)))
        if kind == "checkpoint":
            return Checkpoint()
        if kind == "if_cancelled":
            return CheckpointIfCancelled()
        if kind == "deadline_read":
            return ReadEffectiveDeadline()
        if kind == "raise":
            return Raise(draw(st.sampled_from("abc")))
        if kind == "cancel":
            return Cancel(self._scope_ref())
        if kind == "cancel_nursery":
            return CancelNursery()
        if kind == "deadline":
            if self.features.set_relative_deadline and draw(st.booleans()):
                return SetDeadline(self._scope_ref(), draw(st.sampled_from(SLEEPS)), True)
            return SetDeadline(self._scope_ref(), draw(st.sampled_from(OFFSETS)))
        if kind == "shield":
            return SetShield(self._scope_ref(), draw(st.booleans()))
        if kind == "read":
            return ReadCancelCalled(self._scope_ref())
        if kind == "set":
            return SetEvent(draw(st.sampled_from(EVENTS)))
        if kind == "wait":
            return WaitEvent(draw(st.sampled_from(EVENTS)))
        if kind == "nursery":
            return Nursery(self.nursery_body(inner))
        if kind == "spawn":
            self.tasks += 1
            name = f"t{self.tasks}"
            return Spawn(name, self.block(inner, True))
        if kind == "start":
            self.tasks += 1
            name = f"t{self.tasks}"
            pre = self.block(inner, True)
            calls_started = draw(st.integers(0, 5)) > 0
            return Start(name, pre, self.block(inner, True), calls_started)
        if kind == "scope":
            name = f"c{self.scopes}"
            self.scopes += 1
            shield = draw(st.booleans())
            deadline = draw(st.sampled_from(DEADLINES)) if shield else draw(
                st.none() | st.sampled_from(DEADLINES)
            )
            relative = deadline is not None and draw(st.booleans())
            return Scope(name, self.block(inner, in_nursery), deadline, shield, relative)
        if kind == "fail_after":
            return FailAfter(draw(st.sampled_from(DEADLINES)), self.block(inner, in_nursery))
        if kind == "finally":
            shielded = draw(st.booleans())
            body = self.block(inner, in_nursery)
            cleanup = self.block(inner, in_nursery)
            return TryFinally(body, cleanup, draw(st.sampled_from(DEADLINES)) if shielded else None)
        if kind == "observe":
            return Observe(self.block(inner, in_nursery))
        if kind == "except":
            return TryExcept(self.block(inner, in_nursery), draw(st.integers(0, 3)) > 0)
        if kind == "lock":
            return WithLock(draw(st.sampled_from(LOCKS)), self._holding(inner, in_nursery))
        if kind == "semaphore":
            return WithSemaphore(self._holding(inner, in_nursery))
        if kind == "limiter":
            return WithLimiter(self._holding(inner, in_nursery))
        if kind == "send":
            return ChannelSend()
        if kind == "receive":
            return ChannelReceive()
        if kind == "close":
            return ChannelClose(draw(st.sampled_from(("send", "receive"))))
        if kind == "nowait":
            return ChannelNowait(draw(st.sampled_from(("send", "receive"))))
        if kind == "cv_wait":
            return ConditionWait()
        if kind == "cv_notify":
            return ConditionNotify(draw(st.booleans()))
        raise AssertionError(kind)

    def _holding(self, depth: int, in_nursery: bool) -> Block:
        """A body run while holding a lock: often it takes time (which makes the order
        waiters are served in visible in their timestamps)."""
        if self.draw(st.booleans()):
            return (Sleep(self.draw(st.sampled_from(SLEEPS[1:]))), *self.block(depth, in_nursery))
        return self.block(depth, in_nursery)

    def _scope_ref(self) -> str:
        # Resolved later (see ``_resolve``); "?" marks an index still to map.
        return f"?{self.draw(st.integers(0, SCOPE_REFS - 1))}"


def _resolve(block: Block, scopes: list[Scope], features: Features) -> Block:
    """Map each scope reference ``?i`` onto a real scope (or drop it); see module doc."""
    out: list[Stmt] = []
    for stmt in block:
        if isinstance(stmt, (Cancel, SetDeadline, SetShield, ReadCancelCalled)):
            target = _target(stmt, scopes, features)
            out.append(Checkpoint() if target is None else replace(stmt, scope=target))
            continue
        blocks = [_resolve(inner, scopes, features) for inner in children(stmt)]
        out.append(_rebuild(stmt, blocks))
    return tuple(out)


def _target(
    stmt: Cancel | SetDeadline | SetShield | ReadCancelCalled,
    scopes: list[Scope],
    features: Features,
) -> str | None:
    index = int(stmt.scope[1:])
    candidates = scopes
    if isinstance(stmt, SetShield):
        # Prefer a scope the change changes; shield only scopes with a deadline.
        allowed = [s for s in scopes if not stmt.shield or s.deadline is not None]
        flipping = [s for s in allowed if s.shield != stmt.shield]
        candidates = flipping or allowed
    elif (
        isinstance(stmt, SetDeadline)
        and not stmt.relative
        and not features.set_deadline_on_relative
    ):
        # See Features.set_deadline_on_relative.
        candidates = [s for s in scopes if not s.relative]
    if not candidates:
        return None
    return candidates[index % len(candidates)].scope


def _rebuild(stmt: Stmt, blocks: list[Block]) -> Stmt:
    if isinstance(stmt, Start):
        return replace(stmt, pre=blocks[0], post=blocks[1])
    if isinstance(stmt, TryFinally):
        return replace(stmt, body=blocks[0], cleanup=blocks[1])
    if blocks:
        return replace(cast(Any, stmt), body=blocks[0])  # type: ignore[no-any-return]
    return stmt


def _scopes(block: Block) -> list[Scope]:
    found: list[Scope] = []
    for stmt in block:
        if isinstance(stmt, Scope):
            found.append(stmt)
        for inner in children(stmt):
            found.extend(_scopes(inner))
    return found


@st.composite
def programs(
    draw: Callable[[st.SearchStrategy[Any]], Any], features: Features = DEFAULT_FEATURES
) -> Program:
    """A random program; main's body may open nurseries but is not itself one."""
    builder = _Builder(draw, features)
    body = builder.block(0, False)
    if draw(st.integers(0, 3)) > 0:
        # Most programs get a top-level nursery somewhere in main: concurrency is
        # what is being compared.
        at = draw(st.integers(0, len(body)))
        body = (*body[:at], Nursery(builder.nursery_body(1)), *body[at:])
    body = _resolve(body, _scopes(body), features)
    return Program(body, draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(0, 2)))
