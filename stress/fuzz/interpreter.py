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


class Interpreter:
    def __init__(self, backend: Backend, program: Program) -> None:
        self.api = backend
        self.program = program
        self.labels = labels(program.body)
        self.traces: dict[str, list[tuple[float, str]]] = {}
        self.hung = False

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
        self.watchdog = api.CancelScope(deadline=WATCHDOG)
        token = api.current_token()
        guard = threading.Timer(REAL_TIME_GUARD, self._guard_fired, (token,))
        guard.daemon = True
        guard.start()
        try:
            with self.watchdog:
                await self._task("main", self.program.body, (), None)
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

    async def _task(self, task: str, body: Block, path: Path, nursery: Any) -> None:
        self.log(task, "begin")
        try:
            await self._jitter()
            await self._block(task, body, path, nursery)
        except BaseException as exc:
            self.log(task, "end: " + describe(exc, self.api))
            raise
        self.log(task, "end")

    async def _started_task(
        self, stmt: Start, path: Path, nursery: Any, *, task_status: Any
    ) -> None:
        task = stmt.task
        self.log(task, "begin")
        try:
            await self._jitter()
            await self._block(task, stmt.pre, (*path, 0), nursery)
            if stmt.calls_started:
                task_status.started(task)
                self.log(task, "called started()")
            await self._block(task, stmt.post, (*path, 1), nursery)
        except BaseException as exc:
            self.log(task, "end: " + describe(exc, self.api))
            raise
        self.log(task, "end")

    async def _block(self, task: str, block: Block, path: Path, nursery: Any) -> None:
        for i, stmt in enumerate(block):
            await self._stmt(task, stmt, (*path, i), nursery)

    # -- statements -------------------------------------------------------------

    async def _stmt(self, task: str, stmt: Stmt, path: Path, nursery: Any) -> None:
        api = self.api
        n = f"#{self.labels[path]}"
        body = (*path, 0)
        if isinstance(
            stmt, (Sleep, Checkpoint, CheckpointIfCancelled, Start, WaitEvent, WithLock,
                   WithSemaphore, WithLimiter, ConditionWait, ConditionNotify)
        ):
            await self._jitter()
        if isinstance(stmt, Sleep):
            await api.sleep(stmt.seconds)
            self.log(task, f"{n} slept")
        elif isinstance(stmt, Checkpoint):
            await api.checkpoint()
            self.log(task, f"{n} checkpoint")
        elif isinstance(stmt, CheckpointIfCancelled):
            await api.checkpoint_if_cancelled()
            self.log(task, f"{n} not cancelled")
        elif isinstance(stmt, ReadEffectiveDeadline):
            deadline = api.current_effective_deadline()
            self.log(task, f"{n} effective deadline {deadline:g}")
        elif isinstance(stmt, Raise):
            self.log(task, f"{n} raise")
            raise Boom(stmt.tag)
        elif isinstance(stmt, Nursery):
            async with api.open_nursery() as inner:
                await self._block(task, stmt.body, body, inner)
                await self._jitter()
            self.log(task, f"{n} nursery exited")
        elif isinstance(stmt, Spawn):
            nursery.start_soon(self._task, stmt.task, stmt.body, body, nursery)
            self.log(task, f"{n} spawned {stmt.task}")
        elif isinstance(stmt, Start):
            value = await nursery.start(self._started_task, stmt, path, nursery)
            self.log(task, f"{n} start() returned {value}")
        elif isinstance(stmt, Scope):
            scope = self.scopes[stmt.scope]
            with scope:
                await self._block(task, stmt.body, body, nursery)
            self.log(task, f"{n} scope exited, cancelled_caught={scope.cancelled_caught}")
        elif isinstance(stmt, FailAfter):
            with api.fail_after(stmt.seconds):
                await self._block(task, stmt.body, body, nursery)
            self.log(task, f"{n} fail_after exited")
        elif isinstance(stmt, Cancel):
            self.scopes[stmt.scope].cancel()
            self.log(task, f"{n} cancelled {stmt.scope}")
        elif isinstance(stmt, CancelNursery):
            nursery.cancel_scope.cancel()
            self.log(task, f"{n} cancelled its nursery")
        elif isinstance(stmt, SetDeadline):
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
                await self._block(task, stmt.body, body, nursery)
            self.log(task, f"{n} released {stmt.lock}")
        elif isinstance(stmt, WithSemaphore):
            async with self.semaphore:
                self.log(task, f"{n} acquired semaphore")
                await self._block(task, stmt.body, body, nursery)
            self.log(task, f"{n} released semaphore")
        elif isinstance(stmt, WithLimiter):
            async with self.limiter:
                self.log(task, f"{n} borrowed a token")
                await self._block(task, stmt.body, body, nursery)
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
        elif isinstance(stmt, TryFinally):
            await self._try_finally(task, stmt, path, nursery)
        elif isinstance(stmt, TryExcept):
            await self._try_except(task, stmt, path, nursery)
        elif isinstance(stmt, Observe):
            try:
                await self._block(task, stmt.body, body, nursery)
            except BaseException as exc:
                self.log(task, f"{n} saw {describe(exc, api)}")
                raise
        else:
            raise AssertionError(f"unknown statement {stmt!r}")

    async def _try_finally(self, task: str, stmt: TryFinally, path: Path, nursery: Any) -> None:
        n = f"#{self.labels[path]}"
        in_flight: BaseException | None = None
        try:
            await self._block(task, stmt.body, (*path, 0), nursery)
        except BaseException as exc:
            in_flight = exc
            raise
        finally:
            self.log(task, f"{n} finally, in flight: {describe(in_flight, self.api)}")
            del in_flight
            if stmt.shield_deadline is None:
                await self._block(task, stmt.cleanup, (*path, 1), nursery)
            else:
                with self.api.CancelScope(
                    shield=True, relative_deadline=float(stmt.shield_deadline)
                ) as shield:
                    await self._block(task, stmt.cleanup, (*path, 1), nursery)
                caught = shield.cancelled_caught
                self.log(task, f"{n} shielded cleanup done, cancelled_caught={caught}")

    async def _try_except(self, task: str, stmt: TryExcept, path: Path, nursery: Any) -> None:
        n = f"#{self.labels[path]}"
        if stmt.star:
            try:
                await self._block(task, stmt.body, (*path, 0), nursery)
            except* Boom as group:
                self.log(task, f"{n} except* caught {describe(group, self.api)}")
        else:
            try:
                await self._block(task, stmt.body, (*path, 0), nursery)
            except Boom as exc:
                self.log(task, f"{n} except caught {describe(exc, self.api)}")


def observe(backend: Backend, program: Program) -> Observation:
    return Interpreter(backend, program).observe()
