"""Print a fuzzed program as readable Python-ish code, and observations beside it.

The ``# #n`` comments are the statement numbers that trace lines refer to.
"""

from __future__ import annotations

from .interpreter import WATCHDOG, Observation, labels
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
)

_IND = "    "


class _Printer:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.labels = labels(program.body)
        self.lines: list[str] = []
        self.nurseries = 0

    def emit(self, depth: int, text: str, path: tuple[int, ...] | None = None) -> None:
        tag = f"  # #{self.labels[path]}" if path is not None else ""
        self.lines.append(f"{_IND * depth}{text}{tag}")

    def block(self, block: Block, depth: int, path: tuple[int, ...], nursery: str) -> None:
        if not block:
            self.emit(depth, "pass")
        for i, stmt in enumerate(block):
            self.stmt(stmt, depth, (*path, i), nursery)

    def stmt(self, s: Stmt, d: int, path: tuple[int, ...], nursery: str) -> None:
        body = (*path, 0)
        if isinstance(s, Sleep):
            self.emit(d, f"await sleep({s.seconds})", path)
        elif isinstance(s, Checkpoint):
            self.emit(d, "await checkpoint()", path)
        elif isinstance(s, CheckpointIfCancelled):
            self.emit(d, "await checkpoint_if_cancelled()", path)
        elif isinstance(s, ReadEffectiveDeadline):
            self.emit(d, "log(current_effective_deadline())", path)
        elif isinstance(s, Raise):
            self.emit(d, f'raise Boom("{s.tag}")', path)
        elif isinstance(s, Nursery):
            self.nurseries += 1
            name = f"n{self.nurseries}"
            self.emit(d, f"async with open_nursery() as {name}:", path)
            self.block(s.body, d + 1, body, name)
        elif isinstance(s, Spawn):
            self.emit(d, f"async def {s.task}():")
            self.block(s.body, d + 1, body, nursery)
            self.emit(d, f"{nursery}.start_soon({s.task})", path)
        elif isinstance(s, Start):
            self.emit(d, f"async def {s.task}(task_status):")
            self.block(s.pre, d + 1, body, nursery)
            if s.calls_started:
                self.emit(d + 1, f'task_status.started("{s.task}")')
            else:
                self.emit(d + 1, "# never calls task_status.started()")
            self.block(s.post, d + 1, (*path, 1), nursery)
            self.emit(d, f"await {nursery}.start({s.task})", path)
        elif isinstance(s, Scope):
            self.emit(d, f"with {s.scope}:", path)
            self.block(s.body, d + 1, body, nursery)
        elif isinstance(s, FailAfter):
            self.emit(d, f"with fail_after({s.seconds}):", path)
            self.block(s.body, d + 1, body, nursery)
        elif isinstance(s, Cancel):
            self.emit(d, f"{s.scope}.cancel()", path)
        elif isinstance(s, CancelNursery):
            self.emit(d, f"{nursery}.cancel_scope.cancel()", path)
        elif isinstance(s, SetDeadline):
            if s.relative:
                self.emit(d, f"{s.scope}.relative_deadline = {s.offset}", path)
            else:
                self.emit(d, f"{s.scope}.deadline = current_time() + {s.offset}", path)
        elif isinstance(s, SetShield):
            self.emit(d, f"{s.scope}.shield = {s.shield}", path)
        elif isinstance(s, ReadCancelCalled):
            self.emit(d, f"log({s.scope}.cancel_called)", path)
        elif isinstance(s, SetEvent):
            self.emit(d, f"{s.event}.set()", path)
        elif isinstance(s, WaitEvent):
            self.emit(d, f"await {s.event}.wait()", path)
        elif isinstance(s, WithLock):
            self.emit(d, f"async with {s.lock}:", path)
            self.block(s.body, d + 1, body, nursery)
        elif isinstance(s, WithSemaphore):
            self.emit(d, "async with sem:", path)
            self.block(s.body, d + 1, body, nursery)
        elif isinstance(s, WithLimiter):
            self.emit(d, "async with limiter:", path)
            self.block(s.body, d + 1, body, nursery)
        elif isinstance(s, ConditionWait):
            self.emit(d, "async with cv: await cv.wait()", path)
        elif isinstance(s, ConditionNotify):
            call = "notify_all" if s.all else "notify"
            self.emit(d, f"async with cv: cv.{call}()", path)
        elif isinstance(s, ChannelSend):
            self.emit(d, f'await tx.send("#{self.labels[path]}")', path)
        elif isinstance(s, ChannelReceive):
            self.emit(d, "log(await rx.receive())", path)
        elif isinstance(s, ChannelClose):
            self.emit(d, f"{'tx' if s.end == 'send' else 'rx'}.close()", path)
        elif isinstance(s, ChannelNowait):
            if s.end == "send":
                self.emit(d, f'tx.send_nowait("#{self.labels[path]}")', path)
            else:
                self.emit(d, "log(rx.receive_nowait())", path)
        elif isinstance(s, TryFinally):
            self.emit(d, "try:", path)
            self.block(s.body, d + 1, body, nursery)
            self.emit(d, "finally:")
            if s.shield_deadline is None:
                self.block(s.cleanup, d + 1, (*path, 1), nursery)
            else:
                self.emit(
                    d + 1, f"with CancelScope(shield=True, relative_deadline={s.shield_deadline}):"
                )
                self.block(s.cleanup, d + 2, (*path, 1), nursery)
        elif isinstance(s, TryExcept):
            self.emit(d, "try:", path)
            self.block(s.body, d + 1, body, nursery)
            star = "*" if s.star else ""
            self.emit(d, f"except{star} Boom as e:")
            self.emit(d + 1, "log(e)")
        elif isinstance(s, Observe):
            self.emit(d, "try:", path)
            self.block(s.body, d + 1, body, nursery)
            self.emit(d, "except BaseException as e:")
            self.emit(d + 1, "log(e); raise")
        else:
            raise AssertionError(f"unknown statement {s!r}")


def render(program: Program) -> str:
    """The program as pseudo code: pre-made objects first, then ``main``."""
    p = _Printer(program)
    for name, spec in program.scope_specs().items():
        args = []
        if spec.deadline is not None:
            key = "relative_deadline" if spec.relative else "deadline"
            args.append(f"{key}={spec.deadline}")
        if spec.shield:
            args.append("shield=True")
        p.lines.append(f"{name} = CancelScope({', '.join(args)})")
    used = {line.split(".")[0].strip() for line in _stmt_lines(program)}
    for event in EVENTS:
        if event in used:
            p.lines.append(f"{event} = Event()")
    for lock in LOCKS:
        if any(f"async with {lock}:" in line for line in _stmt_lines(program)):
            p.lines.append(f"{lock} = Lock()")
    lines = _stmt_lines(program)
    if any("async with sem:" in line for line in lines):
        p.lines.append(f"sem = Semaphore({program.semaphore_value})")
    if any("async with limiter:" in line for line in lines):
        p.lines.append(f"limiter = CapacityLimiter({program.limiter_tokens})")
    if any("async with cv:" in line for line in lines):
        p.lines.append("cv = Condition()")
    if any(word in line for line in lines for word in ("tx.", "rx.")):
        p.lines.append(f"tx, rx = open_memory_channel({program.channel_buffer})")
    p.lines.append("")
    p.lines.append("async def main():")
    p.lines.append(f"{_IND}with CancelScope(deadline={WATCHDOG:g}):  # watchdog")
    p.block(program.body, 2, (), "")
    return "\n".join(p.lines)


def _stmt_lines(program: Program) -> list[str]:
    p = _Printer(program)
    p.block(program.body, 0, (), "")
    return [line.replace("await ", "").strip() for line in p.lines]


def render_observation(obs: Observation) -> str:
    lines = [f"  outcome: {obs.outcome}"]
    for task, trace in obs.traces:
        events = ", ".join(f"{t:g}:{what}" for t, what in trace)
        lines.append(f"  {task}: {events}")
    return "\n".join(lines)
