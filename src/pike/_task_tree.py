"""A readable dump of the running task tree: who is alive, where each task waits.

Three ways to get it: call ``format_task_tree()``/``print_task_tree()``; run
with ``pike.run(..., debug=True)``, which prints it once the loop has had
nothing to do for a while (the usual look of a deadlock); or opt in with
``dump_task_tree_on(signal.SIGUSR1)`` and send the signal to a hung process.

The dump reads the kernel's structures as they are and changes nothing, so
it is safe from inside a task or from the run loop's idle path.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
from typing import TextIO

from ._kernel import _state
from ._kernel._cancel import CancelScope
from ._kernel._current import spawn_system_task
from ._kernel._runner import Runner
from ._kernel._task import Task
from ._signals import open_signal_receiver
from ._statistics import current_statistics

# Deep await chains are cut to their innermost frames: that is where a task waits.
MAX_FRAMES = 8
_INDENT = "  "


def _short_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def _task_state(task: Task) -> str:
    if task is _state.local.task:
        return "running"
    if task._abort_fn is not None:
        return "parked"
    return "runnable"


def _describe_scope(scope: CancelScope, now: float) -> str:
    deadline = scope._deadline
    if deadline == math.inf:
        when = "none"
    elif deadline >= now:
        when = f"in {deadline - now:.2f}s"
    else:
        when = f"passed {now - deadline:.2f}s ago"
    text = f"deadline={when}, shield={scope._shield}, cancel_called={scope._cancel_called}"
    if scope._cancel_called and scope._reason:
        text += f" ({scope._reason})"
    return text


def _frame_lines(task: Task, indent: str) -> list[str]:
    frames = list(task.iter_await_frames())
    lines = []
    if len(frames) > MAX_FRAMES:
        lines.append(f"{indent}... {len(frames) - MAX_FRAMES} outer frame(s)")
        frames = frames[-MAX_FRAMES:]
    for frame, lineno in frames:
        code = frame.f_code
        lines.append(f"{indent}{_short_path(code.co_filename)}:{lineno} in {code.co_name}")
    return lines


def _nursery_label(nursery: object) -> str:
    runner = _state.local.runner
    if runner is not None and nursery is runner.system_nursery:
        return "nursery (system tasks)"
    return "nursery"


def _task_lines(task: Task, depth: int, now: float, out: list[str]) -> None:
    indent = _INDENT * depth
    out.append(f"{indent}task {task.name!r} [{_task_state(task)}]")
    out.extend(_frame_lines(task, indent + "    "))
    # The task's own scopes, outermost first: the chain from its current
    # scope up to the scope it was spawned under (which its parent owns).
    chain: list[CancelScope] = []
    scope: CancelScope | None = task._cancel_scope
    while scope is not None and scope is not task._root_scope:
        chain.append(scope)
        scope = scope._parent
    chain.reverse()
    nurseries = {id(n.cancel_scope): n for n in task._child_nurseries}
    level = depth + 1
    for scope in chain:
        nursery = nurseries.pop(id(scope), None)
        label = "cancel scope" if nursery is None else _nursery_label(nursery)
        out.append(f"{_INDENT * level}{label} [{_describe_scope(scope, now)}]")
        if nursery is not None:
            for child in sorted(nursery._children, key=lambda t: t.name):
                _task_lines(child, level + 1, now, out)
        level += 1
    for nursery in nurseries.values():  # not expected: a nursery off the scope chain
        out.append(
            f"{_INDENT * (depth + 1)}{_nursery_label(nursery)} "
            f"[{_describe_scope(nursery.cancel_scope, now)}]"
        )
        for child in sorted(nursery._children, key=lambda t: t.name):
            _task_lines(child, depth + 2, now, out)


def _format(runner: Runner) -> str:
    stats = current_statistics()
    now = runner.clock.current_time()
    deadline = stats.seconds_to_next_deadline
    io = stats.io_statistics
    out = [
        f"pike task tree: {stats.tasks_living} task(s) living, {stats.tasks_runnable} runnable, "
        f"next deadline {'none' if deadline == math.inf else f'in {deadline:.2f}s'}, "
        f"{io.tasks_waiting_read} waiting to read, {io.tasks_waiting_write} to write "
        f"({io.backend})"
    ]
    if runner.init_task is not None:
        _task_lines(runner.init_task, 0, now, out)
    return "\n".join(out)


def format_task_tree() -> str:
    """The current run's task tree as text: tasks, their nurseries and cancel scopes,
    and the await chain each task is parked in (innermost frame last)."""
    return _format(_state.runner())


def print_task_tree(file: TextIO | None = None) -> None:
    """Print ``format_task_tree()`` to ``file`` (default: standard error)."""
    print(format_task_tree(), file=sys.stderr if file is None else file, flush=True)


def report_stuck(runner: Runner, seconds: float) -> None:
    """What ``debug=True`` prints when the run has had nothing to do for ``seconds``."""
    print(
        f"pike: the run has been idle for {seconds:g}s: no runnable task, no I/O, "
        "no callback (a deadlock?)\n" + _format(runner),
        file=sys.stderr,
        flush=True,
    )


def dump_task_tree_on(*signals: int, file: TextIO | None = None) -> None:
    """Print the task tree each time one of ``signals`` arrives, until the run ends.

    Opt-in (no signal is taken over unless asked), from the main thread inside
    ``pike.run``. A system task receives the signals, so the dump shows where
    tasks wait in a run that is stuck, not one that never yields.
    """
    if not signals:
        raise TypeError("dump_task_tree_on needs at least one signal")
    for signum in signals:
        if isinstance(signum, bool) or not isinstance(signum, int):
            raise TypeError(f"signals are ints, not {type(signum).__name__}")
        if signum not in signal.valid_signals():
            raise ValueError(f"{signum} is not a valid signal number")
    # Installed now, so a bad call fails here and a signal sent right after
    # this returns is not lost.
    stack = contextlib.ExitStack()
    receiver = stack.enter_context(open_signal_receiver(*signals))

    async def dumper() -> None:
        with stack:
            async for _ in receiver:
                print_task_tree(file)

    try:
        spawn_system_task(dumper, name="<pike task-tree dumper>")
    except BaseException:
        stack.close()
        raise
