"""One interpreter for fuzzed programs, run against a ``Backend`` (pike or trio).

It records, per task, the events that task saw with their virtual timestamps, and the
run's outcome. Each statement's events carry its number (preorder, as the renderer
prints it), so a trace line points at one line of the program.

Only the *per-task* sequences are kept, never the interleaving between tasks: trio
runs the tasks of one batch in a random order, and that order is not a semantic
property (a real difference, e.g. who gets a lock, still shows up in the tasks' own
traces, or in their timestamps).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .backends import Backend
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

WATCHDOG = 1000.0  # virtual seconds; far beyond any program's own sleeps and deadlines
REAL_TIME_GUARD = 30.0  # wall-clock seconds before a run counts as hung

Path = tuple[int, ...]
Trace = tuple[tuple[float, str], ...]


class Boom(Exception):
    """The one error programs raise on purpose; its tag says which ``raise``."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


def labels(block: Block, path: Path = (), start: int = 1) -> dict[Path, int]:
    """Number every statement preorder; a statement's path is its index chain."""
    out: dict[Path, int] = {}
    counter = [start]

    def visit(block: Block, path: Path) -> None:
        for i, stmt in enumerate(block):
            here = (*path, i)
            out[here] = counter[0]
            counter[0] += 1
            for j, inner in enumerate(children(stmt)):
                visit(inner, (*here, j))

    visit(block, path)
    return out


def describe(exc: BaseException | None, backend: Backend) -> str:
    """An exception as a comparable string: type tree, group members sorted.

    Normalisation (documented difference, README "Semantics worth knowing"): a group
    whose members are all Cancelled (after this same rule is applied inside) is
    written as a single ``Cancelled``. pike's nurseries raise one Cancelled there,
    trio's raise a group of them; both are caught by the same scope.
    Group member order is the order children finished, which trio randomises.
    """
    if exc is None:
        return "-"
    if isinstance(exc, BaseExceptionGroup):
        members = sorted(describe(e, backend) for e in exc.exceptions)
        if all(m == "Cancelled" for m in members):
            return "Cancelled"
        return "Group[" + ", ".join(members) + "]"
    if isinstance(exc, backend.Cancelled):
        return "Cancelled"
    if isinstance(exc, backend.TooSlowError):
        return "TooSlowError"
    if isinstance(exc, Boom):
        return f"Boom({exc.tag})"
    return type(exc).__name__


@dataclass(frozen=True)
class Observation:
    outcome: str
    traces: tuple[tuple[str, Trace], ...]

    def trace_of(self, task: str) -> Trace:
        return dict(self.traces).get(task, ())

    def violations(self) -> list[str]:
        return [what for _, trace in self.traces for _, what in trace if "VIOLATION" in what]


@dataclass(frozen=True)
class _Ctx:
    """Where a statement runs: its task, the nursery it may spawn into (with that
    nursery's scope chain, which the nursery's children run under), and the cancel
    scopes it is inside, outermost first."""

    task: str
    nursery: Any
    nursery_chain: tuple[Any, ...]
    chain: tuple[Any, ...]

    def inside(self, scope: Any) -> _Ctx:
        return _Ctx(self.task, self.nursery, self.nursery_chain, (*self.chain, scope))


class Interpreter:
    """Runs one program on one backend; ``observe()`` returns what it saw.

    Besides the traces, it checks one rule itself on every backend (an oracle for
    what per-task traces cannot see, the order between tasks): a checkpoint or sleep
    that returns normally must not be inside a scope that was explicitly cancelled
    (``cancel()``, not a deadline: trio applies deadlines a loop pass late) unless a
    shield lies in between. A breach is logged as a ``VIOLATION`` event, which trio
    never logs, so it shows up as a difference.
    """

    def __init__(self, backend: Backend, program: Program) -> None:
        self.api = backend
        self.program = program
        self.labels = labels(program.body)
        self.traces: dict[str, list[tuple[float, str]]] = {}
        self.hung = False
        # Keeps the scopes alive too, so that an id() is never reused for another.
        self.explicitly_cancelled: dict[int, Any] = {}

    # -- the run ----------------------------------------------------------------

    def observe(self) -> Observation:
        try:
            self.api.run(self._main)
            outcome = "returned"
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = "raised " + describe(exc, self.api)
        if self.hung:
            outcome = "HUNG (real-time guard fired), then " + outcome
        return Observation(
            outcome, tuple(sorted((task, tuple(ev)) for task, ev in self.traces.items()))
        )

    async def _main(self) -> None:
        api = self.api
        self.scopes: dict[str, Any] = {}
        for name, spec in self.program.scope_specs().items():
            kwargs: dict[str, Any] = {"shield": spec.shield}
            if spec.deadline is not None:
                key = "relative_deadline" if spec.relative else "deadline"
                kwargs[key] = float(spec.deadline)
            self.scopes[name] = api.CancelScope(**kwargs)
        self.events = {name: api.Event() for name in EVENTS}
        self.locks = {name: api.Lock() for name in LOCKS}
        self.semaphore = api.Semaphore(self.program.semaphore_value)
        self.limiter = api.CapacityLimiter(self.program.limiter_tokens)
        self.condition = api.Condition()
        self.tx, self.rx = api.open_memory_channel(self.program.channel_buffer)
        self.watchdog = api.CancelScope(deadline=WATCHDOG)
        token = api.current_token()
        guard = threading.Timer(REAL_TIME_GUARD, self._guard_fired, (token,))
        guard.daemon = True
        guard.start()
        try:
            with self.watchdog:
                await self._task(_Ctx("main", None, (), (self.watchdog,)), self.program.body, ())
        finally:
            guard.cancel()
            if self.watchdog.cancelled_caught:
                self.log("main", "watchdog fired")

    def _guard_fired(self, token: Any) -> None:
        def cancel_all() -> None:
            self.hung = True
            self.watchdog.cancel()

        try:
            token.run_sync_soon(cancel_all)
        except Exception:  # the run ended meanwhile
            pass

    def log(self, task: str, what: str) -> None:
        now = round(self.api.current_time(), 6)
        self.traces.setdefault(task, []).append((now, what))

    # -- tasks ------------------------------------------------------------------

    async def _jitter(self) -> None:
        if self.api.jitter is not None:
            await self.api.jitter()

    async def _task(self, ctx: _Ctx, body: Block, path: Path) -> None:
        self.log(ctx.task, "begin")
        try:
            await self._jitter()
            await self._block(ctx, body, path)
        except BaseException as exc:
            self.log(ctx.task, "end: " + describe(exc, self.api))
            raise
        self.log(ctx.task, "end")

    async def _started_task(
        self, stmt: Start, path: Path, caller: _Ctx, *, task_status: Any
    ) -> None:
        task = stmt.task
        # Until started() the task runs under the caller's scopes, then under the
        # nursery's (if it stays put because the caller is cancelled, it is cancelled
        # anyway, so using the nursery's chain can only miss a breach, not invent one).
        before = _Ctx(task, caller.nursery, caller.nursery_chain, caller.chain)
        after = _Ctx(task, caller.nursery, caller.nursery_chain, caller.nursery_chain)
        self.log(task, "begin")
        try:
            await self._jitter()
            await self._block(before, stmt.pre, (*path, 0))
            if stmt.calls_started:
                task_status.started(task)
                self.log(task, "called started()")
            await self._block(after, stmt.post, (*path, 1))
        except BaseException as exc:
            self.log(task, "end: " + describe(exc, self.api))
            raise
        self.log(task, "end")

    async def _block(self, ctx: _Ctx, block: Block, path: Path) -> None:
        for i, stmt in enumerate(block):
            await self._stmt(ctx, stmt, (*path, i))

    def _cancel(self, scope: Any) -> None:
        self.explicitly_cancelled[id(scope)] = scope
        scope.cancel()

    def _check_not_cancelled(self, ctx: _Ctx, n: str) -> None:
        for scope in reversed(ctx.chain):
            if self.explicitly_cancelled.get(id(scope)) is scope:
                self.log(ctx.task, f"{n} VIOLATION: returned normally in a cancelled scope")
                return
            if scope.shield:
                return

    # -- statements -------------------------------------------------------------

    async def _stmt(self, ctx: _Ctx, stmt: Stmt, path: Path) -> None:
        api = self.api
        task, nursery = ctx.task, ctx.nursery
        n = f"#{self.labels[path]}"
        body = (*path, 0)
        if isinstance(
            stmt, (Sleep, Checkpoint, CheckpointIfCancelled, Start, WaitEvent, WithLock,
                   WithSemaphore, WithLimiter, ConditionWait, ConditionNotify, ChannelSend,
                   ChannelReceive)
        ):
            await self._jitter()
        if isinstance(stmt, Sleep):
            await api.sleep(stmt.seconds)
            self.log(task, f"{n} slept")
            self._check_not_cancelled(ctx, n)
        elif isinstance(stmt, Checkpoint):
            await api.checkpoint()
            self.log(task, f"{n} checkpoint")
            self._check_not_cancelled(ctx, n)
        elif isinstance(stmt, CheckpointIfCancelled):
            await api.checkpoint_if_cancelled()
            self.log(task, f"{n} not cancelled")
            self._check_not_cancelled(ctx, n)
        elif isinstance(stmt, ReadEffectiveDeadline):
            deadline = api.current_effective_deadline()
            self.log(task, f"{n} effective deadline {deadline:g}")
        elif isinstance(stmt, Raise):
            self.log(task, f"{n} raise")
            raise Boom(stmt.tag)
        elif isinstance(stmt, Nursery):
            async with api.open_nursery() as inner:
                chain = (*ctx.chain, inner.cancel_scope)
                await self._block(_Ctx(task, inner, chain, chain), stmt.body, body)
                await self._jitter()
            self.log(task, f"{n} nursery exited")
        elif isinstance(stmt, Spawn):
            child = _Ctx(stmt.task, nursery, ctx.nursery_chain, ctx.nursery_chain)
            nursery.start_soon(self._task, child, stmt.body, body)
            self.log(task, f"{n} spawned {stmt.task}")
        elif isinstance(stmt, Start):
            value = await nursery.start(self._started_task, stmt, path, ctx)
            self.log(task, f"{n} start() returned {value}")
        elif isinstance(stmt, Scope):
            scope = self.scopes[stmt.scope]
            with scope:
                await self._block(ctx.inside(scope), stmt.body, body)
            self.log(task, f"{n} scope exited, cancelled_caught={scope.cancelled_caught}")
        elif isinstance(stmt, FailAfter):
            with api.fail_after(stmt.seconds) as scope:
                await self._block(ctx.inside(scope), stmt.body, body)
            self.log(task, f"{n} fail_after exited")
        elif isinstance(stmt, Cancel):
            self._cancel(self.scopes[stmt.scope])
            self.log(task, f"{n} cancelled {stmt.scope}")
        elif isinstance(stmt, CancelNursery):
            self._cancel(nursery.cancel_scope)
            self.log(task, f"{n} cancelled its nursery")
        elif isinstance(stmt, SetDeadline):
            if stmt.relative:
                self.scopes[stmt.scope].relative_deadline = float(stmt.offset)
            else:
                self.scopes[stmt.scope].deadline = api.current_time() + stmt.offset
            self.log(task, f"{n} set deadline")
        elif isinstance(stmt, SetShield):
            self.scopes[stmt.scope].shield = stmt.shield
            self.log(task, f"{n} set shield")
        elif isinstance(stmt, ReadCancelCalled):
            called = self.scopes[stmt.scope].cancel_called
            self.log(task, f"{n} cancel_called={called}")
        elif isinstance(stmt, SetEvent):
            self.events[stmt.event].set()
            self.log(task, f"{n} set {stmt.event}")
        elif isinstance(stmt, WaitEvent):
            await self.events[stmt.event].wait()
            self.log(task, f"{n} waited {stmt.event}")
        elif isinstance(stmt, WithLock):
            async with self.locks[stmt.lock]:
                self.log(task, f"{n} acquired {stmt.lock}")
                await self._block(ctx, stmt.body, body)
            self.log(task, f"{n} released {stmt.lock}")
        elif isinstance(stmt, WithSemaphore):
            async with self.semaphore:
                self.log(task, f"{n} acquired semaphore")
                await self._block(ctx, stmt.body, body)
            self.log(task, f"{n} released semaphore")
        elif isinstance(stmt, WithLimiter):
            async with self.limiter:
                self.log(task, f"{n} borrowed a token")
                await self._block(ctx, stmt.body, body)
            self.log(task, f"{n} returned the token")
        elif isinstance(stmt, ConditionWait):
            async with self.condition:
                await self.condition.wait()
                self.log(task, f"{n} woken by cv")
        elif isinstance(stmt, ConditionNotify):
            async with self.condition:
                if stmt.all:
                    self.condition.notify_all()
                else:
                    self.condition.notify()
                self.log(task, f"{n} notified cv")
        elif isinstance(stmt, ChannelSend):
            await self.tx.send(n)
            self.log(task, f"{n} sent")
        elif isinstance(stmt, ChannelReceive):
            value = await self.rx.receive()
            self.log(task, f"{n} received {value}")
        elif isinstance(stmt, ChannelClose):
            (self.tx if stmt.end == "send" else self.rx).close()
            self.log(task, f"{n} closed {stmt.end} end")
        elif isinstance(stmt, ChannelNowait):
            if stmt.end == "send":
                self.tx.send_nowait(n)
                self.log(task, f"{n} sent at once")
            else:
                value = self.rx.receive_nowait()
                self.log(task, f"{n} received {value} at once")
        elif isinstance(stmt, TryFinally):
            await self._try_finally(ctx, stmt, path)
        elif isinstance(stmt, TryExcept):
            await self._try_except(ctx, stmt, path)
        elif isinstance(stmt, Observe):
            try:
                await self._block(ctx, stmt.body, body)
            except BaseException as exc:
                self.log(task, f"{n} saw {describe(exc, api)}")
                raise
        else:
            raise AssertionError(f"unknown statement {stmt!r}")

    async def _try_finally(self, ctx: _Ctx, stmt: TryFinally, path: Path) -> None:
        n = f"#{self.labels[path]}"
        task = ctx.task
        in_flight: BaseException | None = None
        try:
            await self._block(ctx, stmt.body, (*path, 0))
        except BaseException as exc:
            in_flight = exc
            raise
        finally:
            self.log(task, f"{n} finally, in flight: {describe(in_flight, self.api)}")
            del in_flight
            if stmt.shield_deadline is None:
                await self._block(ctx, stmt.cleanup, (*path, 1))
            else:
                with self.api.CancelScope(
                    shield=True, relative_deadline=float(stmt.shield_deadline)
                ) as shield:
                    await self._block(ctx.inside(shield), stmt.cleanup, (*path, 1))
                caught = shield.cancelled_caught
                self.log(task, f"{n} shielded cleanup done, cancelled_caught={caught}")

    async def _try_except(self, ctx: _Ctx, stmt: TryExcept, path: Path) -> None:
        n = f"#{self.labels[path]}"
        task = ctx.task
        if stmt.star:
            try:
                await self._block(ctx, stmt.body, (*path, 0))
            except* Boom as group:
                self.log(task, f"{n} except* caught {describe(group, self.api)}")
        else:
            try:
                await self._block(ctx, stmt.body, (*path, 0))
            except Boom as exc:
                self.log(task, f"{n} except caught {describe(exc, self.api)}")


def observe(backend: Backend, program: Program) -> Observation:
    return Interpreter(backend, program).observe()
