"""KeyboardInterrupt protection: may Ctrl-C interrupt the code running right now?

A second Ctrl-C raises KeyboardInterrupt inside whatever is running, so code
that must not be torn in half (pike's own bookkeeping, a library's critical
section) has to be recognisable from the interrupted frame alone. The answer
is computed only when SIGINT arrives, by walking up the frame chain; nothing
is stored per call, so protection costs nothing on any hot path.

The walk stops at the first frame that decides:

* a code object marked by ``enable_ki_protection`` / ``disable_ki_protection``
  (the decorators copy the function's code object, so the mark belongs to that
  one decorated function; coroutine, generator and async generator frames run
  that same code, so all four kinds of function work without a wrapper);
* a frame of pike itself: protected (the kernel is never interrupted halfway),
  except a pike coroutine that is only awaiting user code further down;
* the run loop: reached from a task's outermost frame, the task's default
  decides (system tasks protected, user tasks not); reached directly, the
  interrupted code was the loop itself, which is protected.

Outside any run, nothing decides and the answer is "not protected", as for
any Python code.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

from . import _state

F = TypeVar("F", bound=Callable[..., Any])

# id(code object) -> protected?  Keyed by identity (code objects compare by
# value, so two equal functions would share a mark); a weak reference drops
# the entry when the code object dies, before its id can be reused.
_STATUS: dict[int, bool] = {}
_REFS: dict[int, weakref.ref[types.CodeType]] = {}
# id(code) of the run loop function that steps tasks (registered by the runner).
_LOOP_CODES: set[int] = set()
_ASYNC_FLAGS = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_PIKE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def register_loop_code(code: types.CodeType) -> None:
    _LOOP_CODES.add(id(code))


def _set_status(code: types.CodeType, protected: bool) -> None:
    key = id(code)

    def forget(_: object, key: int = key) -> None:
        _STATUS.pop(key, None)
        _REFS.pop(key, None)

    _REFS[key] = weakref.ref(code, forget)
    _STATUS[key] = protected


def _with_own_code(fn: types.FunctionType) -> types.FunctionType:
    """A copy of ``fn`` whose code object is its own (so marking it marks only it)."""
    copy = types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__kwdefaults__ = fn.__kwdefaults__
    functools.update_wrapper(copy, fn)
    copy.__dict__.pop("__wrapped__", None)  # not a wrapper: same code, same behaviour
    return copy


def _as_function(fn: Callable[..., Any]) -> types.FunctionType:
    """Any callable as a Python function of the same kind (sync or async)."""
    if inspect.iscoroutinefunction(fn):

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            return await fn(*args, **kwargs)

        wrapper: Callable[..., Any] = call_async
    elif inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            f"cannot set KeyboardInterrupt protection on {fn!r}: decorate the generator "
            "function itself"
        )
    else:

        def call_sync(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        wrapper = call_sync
    functools.update_wrapper(wrapper, fn)
    assert isinstance(wrapper, types.FunctionType)
    return wrapper


def _mark(fn: F, protected: bool) -> F:
    # Each branch rebuilds fn's own kind of callable around a copy of its code, so the
    # result has fn's signature; the type checker cannot follow that, hence the cast.
    return cast(F, _marked_copy(fn, protected))


def _marked_copy(fn: Callable[..., Any], protected: bool) -> Callable[..., Any]:
    if isinstance(fn, types.MethodType):
        return types.MethodType(_marked_copy(fn.__func__, protected), fn.__self__)
    if isinstance(fn, (staticmethod, classmethod)):
        return type(fn)(_marked_copy(fn.__func__, protected))
    if not callable(fn):
        raise TypeError(f"KeyboardInterrupt protection needs a function, not {fn!r}")
    func = fn if isinstance(fn, types.FunctionType) else _as_function(fn)
    copy = _with_own_code(func)
    _set_status(copy.__code__, protected)
    return copy


def enable_ki_protection(fn: F) -> F:
    """Decorator: Ctrl-C never interrupts ``fn`` (or what it calls) in the middle.

    Works on functions, coroutine functions, generator functions and async
    generator functions. A KeyboardInterrupt that arrives meanwhile is
    delivered later, to the main task.
    """
    return _mark(fn, True)


def disable_ki_protection(fn: F) -> F:
    """Decorator: ``fn`` may be interrupted by Ctrl-C even when called from protected code."""
    return _mark(fn, False)


def _task_protected_by_default(task: Any) -> bool:
    runner = _state.local.runner
    if runner is None:
        return False
    if task is runner.init_task:
        return True
    system = runner.system_nursery
    # System tasks are protected, except the ones that run a user's function on
    # behalf of another task (from_thread.run: their root scope is private).
    return (
        system is not None
        and task._parent_nursery is system
        and task._root_scope is system.cancel_scope
    )


def frame_is_protected(frame: types.FrameType | None) -> bool:
    """Whether a KeyboardInterrupt raised in ``frame`` would land in protected code."""
    came_from: types.FrameType | None = None
    while frame is not None:
        code = frame.f_code
        key = id(code)
        if key in _LOOP_CODES:
            if came_from is None:
                return True  # the loop itself was running
            task = _state.local.task
            return task is None or _task_protected_by_default(task)
        status = _STATUS.get(key)
        if status is not None:
            return status
        if code.co_filename.startswith(_PIKE_DIR) and (
            came_from is None or not code.co_flags & _ASYNC_FLAGS
        ):
            # pike's own code, unless it is an async frame merely awaiting the
            # user's code (a wrapper such as from_thread.run's task).
            return True
        came_from = frame
        frame = frame.f_back
    return False


def currently_ki_protected() -> bool:
    """Whether the caller is protected from KeyboardInterrupt (see ``enable_ki_protection``)."""
    return frame_is_protected(sys._getframe(1))


def raise_keyboard_interrupt() -> NoReturn:
    """The ``raise_cancel`` handed to an abort function when Ctrl-C, not a cancel, wakes it."""
    raise KeyboardInterrupt
