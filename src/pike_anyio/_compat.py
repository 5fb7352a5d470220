"""Every difference between the anyio releases pike_anyio supports, in one place.

anyio's backend interface (``anyio.abc.AsyncBackend`` and the private helpers a
backend uses) is not public and changes between minor releases. The adapter is
written against the newest interface; this module detects, by *feature* and
never by version number, what the installed anyio offers, and supplies the
older or missing pieces. The rest of pike_anyio imports these names from here
and never branches on anyio itself.

Known differences (4.9 to 4.16):

* 4.9-4.12 create blocking portals through ``AsyncBackend.create_blocking_portal``;
  4.13 replaced it with ``run_sync_soon``.
* 4.9-4.11 keep the backend class and the raw token in two thread-locals; from
  4.12 one ``anyio.lowlevel.EventLoopToken`` holds both.
* 4.9-4.13 task groups implement ``start_soon`` themselves; from 4.14 they
  implement ``create_task`` and anyio wraps each task in its ``TaskHandle``
  (which takes the task's cancel scope from 4.15).
* Before 4.14 anyio's CancelScope has no ``__slots__``, so our subclass's
  instances carry a ``__dict__``; harmless, since task groups construct their
  scope themselves and hand it to ``pike.open_nursery(cancel_scope=...)``.
* ``wrap_*_socket`` and ``notify_closing`` appear in 4.10; extra methods are
  harmless to an older anyio, which never calls them.

A release newer than any tested may declare abstract methods this adapter
lacks: ``fill_missing_methods`` gives each a stub that raises
``MissingBackendMethodError`` naming the method and the anyio version, so the
backend still instantiates and everything else keeps working.
"""

from __future__ import annotations

import abc
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio.abc
import anyio.abc._tasks as _anyio_tasks_abc
from anyio._core import _tasks as _anyio_tasks
from anyio._core._eventloop import threadlocals

if TYPE_CHECKING:  # absent before anyio 4.12; imported for real below where it exists
    from anyio.lowlevel import EventLoopToken

#: The oldest anyio release pike_anyio supports (keep in step with pyproject.toml).
SUPPORTED_RANGE = ">=4.9,<5"
_LOWEST = (4, 9)


class UnsupportedAnyioError(RuntimeError):
    """The installed anyio is older than pike_anyio supports.

    A RuntimeError rather than an ImportError: anyio turns an ImportError from a
    backend module into "No such backend", which would hide the real reason.
    """


class MissingBackendMethodError(NotImplementedError):
    """anyio called a backend method that this pike_anyio does not implement yet."""


def installed_anyio_version() -> str:
    return importlib.metadata.version("anyio")


def require_supported_anyio() -> None:
    """Raise ``UnsupportedAnyioError`` if the installed anyio is too old.

    Newer releases are accepted: whatever they add is either unused by the
    adapter or reported clearly when called (``fill_missing_methods``).
    """
    found = installed_anyio_version()
    match = re.match(r"(\d+)\.(\d+)", found)
    release = (int(match[1]), int(match[2])) if match else None
    if release is None or release < _LOWEST:
        raise UnsupportedAnyioError(
            f"the 'pike' anyio backend supports anyio{SUPPORTED_RANGE}, but anyio "
            f"{found} is installed (anyio's backend interface is private and changes "
            f"between minor releases); install a supported one: "
            f"pip install 'anyio{SUPPORTED_RANGE}'"
        )


# -- backend methods ------------------------------------------------------------------


def _missing_method(name: str, is_async: bool) -> classmethod[Any, ..., Any]:
    def message() -> str:
        return (
            f"anyio {installed_anyio_version()} calls AsyncBackend.{name}(), which this "
            f"version of pike_anyio does not implement yet; use an anyio release "
            f"pike_anyio has been tested with, or upgrade pike_anyio"
        )

    if is_async:
        async def missing_async(cls: type, *args: object, **kwargs: object) -> Any:
            raise MissingBackendMethodError(message())

        missing: Callable[..., Any] = missing_async
    else:
        def missing_sync(cls: type, *args: object, **kwargs: object) -> Any:
            raise MissingBackendMethodError(message())

        missing = missing_sync
    missing.__name__ = missing.__qualname__ = name
    return classmethod(missing)


def fill_missing_methods(backend: type[anyio.abc.AsyncBackend]) -> frozenset[str]:
    """Give ``backend`` a stub for each abstract method it does not define.

    Returns the names stubbed (empty on every tested release).
    """
    missing = frozenset(getattr(backend, "__abstractmethods__", ()))
    for name in missing:
        declared = inspect.getattr_static(anyio.abc.AsyncBackend, name, None)
        func = getattr(declared, "__func__", declared)
        setattr(backend, name, _missing_method(name, inspect.iscoroutinefunction(func)))
    abc.update_abstractmethods(backend)
    return missing


#: True where anyio asks the backend for blocking portals (4.9-4.12).
WANTS_BLOCKING_PORTAL = "create_blocking_portal" in getattr(
    anyio.abc.AsyncBackend, "__abstractmethods__", ()
)

# -- worker-thread bookkeeping ----------------------------------------------------------

#: anyio's EventLoopToken class (4.12+), or None where workers keep two thread-locals.
_EventLoopToken: type[EventLoopToken] | None
try:
    from anyio.lowlevel import EventLoopToken as _EventLoopToken
except ImportError:  # anyio < 4.12: two thread-locals
    _EventLoopToken = None


def worker_token(backend: type[Any], native: object) -> object:
    """What a worker thread stores so that ``anyio.from_thread`` finds its run."""
    return native if _EventLoopToken is None else _EventLoopToken(backend, native)


def claim_worker(backend: type[Any], stored: object) -> None:
    threadlocals.current_token = stored
    if _EventLoopToken is None:
        threadlocals.current_async_backend = backend


def release_worker() -> None:
    del threadlocals.current_token
    if _EventLoopToken is None:
        del threadlocals.current_async_backend


def claimed_native_token() -> object:
    """The raw run token this thread was claimed for as an anyio worker, or None."""
    stored = getattr(threadlocals, "current_token", None)
    if stored is None or _EventLoopToken is None:
        return stored
    return stored.native_token


# -- task groups ----------------------------------------------------------------------

#: anyio's TaskHandle (4.14+), or None where task groups implement ``start_soon``.
TaskHandle: Any = getattr(_anyio_tasks, "TaskHandle", None)
_HANDLE_TAKES_SCOPE = (
    TaskHandle is not None and "cancel_scope" in inspect.signature(TaskHandle).parameters
)


def new_task_handle(coro: Coroutine[Any, Any, Any], name: str, scope: Any) -> Any:
    """anyio's TaskHandle for ``coro``, running under ``scope`` where anyio lets us say."""
    if TaskHandle is None:
        coro.close()
        raise MissingBackendMethodError(
            f"TaskGroup.create_task() needs anyio 4.14 or newer (anyio "
            f"{installed_anyio_version()} is installed); use start_soon()"
        )
    if _HANDLE_TAKES_SCOPE:
        return TaskHandle(coro, name, scope)
    return TaskHandle(coro, name)


def _own_callable_name(func: Callable[..., Any], override: object = None) -> str:
    if override is not None:
        return str(override)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{qualname}" if module else qualname


def _own_coro_name(coro: Coroutine[Any, Any, Any], override: object = None) -> str:
    if override is not None:
        return str(override)
    return str(getattr(coro, "__qualname__", None) or repr(coro))


def _own_call_for_coroutine(
    func: Callable[..., Any], args: tuple[Any, ...], **kwargs: Any
) -> Coroutine[Any, Any, Any]:
    result = func(*args, **kwargs)
    if not inspect.iscoroutine(result):
        prefix = f"{func.__module__}." if hasattr(func, "__module__") else ""
        raise TypeError(
            f"Expected {prefix}{getattr(func, '__qualname__', func)}() to return a "
            f"coroutine, but the return value ({result!r}) is not a coroutine object"
        )
    return result


get_callable_name: Callable[..., str] = getattr(
    _anyio_tasks_abc, "get_callable_name", _own_callable_name
)
get_coro_name: Callable[..., str] = getattr(_anyio_tasks_abc, "get_coro_name", _own_coro_name)
call_for_coroutine: Callable[..., Coroutine[Any, Any, Any]] = getattr(
    _anyio_tasks_abc, "call_for_coroutine", _own_call_for_coroutine
)
