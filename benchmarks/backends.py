"""Backend names and how each one is started.

Kept in one place so that the only per-backend difference anywhere in the
suite is *which event loop runs the program* — never the program itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Every backend the anyio suite knows, in report order.  ``uvloop`` and
#: ``rloop`` mean anyio's asyncio backend on that event loop (uvloop is written
#: on libuv in Cython, rloop in Rust): the fastest asyncio loops users pick.
ANYIO_BACKENDS: tuple[str, ...] = ("pike", "asyncio", "uvloop", "rloop", "trio")

#: Not a backend users run: the cheapest scheduler anyio's checkpoint can
#: dispatch to (see ``floor.py``); only the checkpoint workload runs on it.
FLOOR = "floor"
FLOOR_WORKLOADS = ("checkpoint",)

#: Backends with a trio-shaped native API (``mod.run``, ``mod.open_nursery`` …).
NATIVE_BACKENDS: tuple[str, ...] = ("pike", "trio")

#: The backend whose speed the report is about; ratios are subject/other.
SUBJECT = "pike"

_ALIASES = {"asyncio+uvloop": "uvloop"}


def canonical(name: str) -> str:
    """Map user spellings (``asyncio+uvloop``) to the names used in reports."""
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def anyio_run_kwargs(backend: str) -> dict[str, Any]:
    """Keyword arguments for :func:`anyio.run` that select *backend*.

    anyio's defaults are used for every backend (no debug mode, no tuning);
    uvloop is anyio's documented ``use_uvloop`` backend option; rloop goes
    through the generic ``loop_factory`` option.
    """
    if backend == "uvloop":
        return {"backend": "asyncio", "backend_options": {"use_uvloop": True}}
    if backend == "rloop":
        import rloop

        return {"backend": "asyncio", "backend_options": {"loop_factory": rloop.new_event_loop}}
    if backend in ("asyncio", "trio", "pike", FLOOR):
        return {"backend": backend}
    raise ValueError(f"unknown backend {backend!r}; known: {', '.join(ANYIO_BACKENDS)}")


def _register_pike() -> None:
    """Make ``backend="pike"`` resolvable in an uninstalled checkout too.

    An installed pike-anyio registers itself through a ``.pth`` start-up hook;
    ``.pth`` files are only read from site directories, so with just
    ``src/`` on ``PYTHONPATH`` (see the orchestrator) we import the same hook
    module by hand.  It is idempotent, so this changes nothing when installed.
    """
    import importlib

    try:
        importlib.import_module("_pike_anyio_hook")
    except ImportError:
        pass  # anyio.run will then report "No such backend: pike" — and we say so


def run_anyio(backend: str, func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``func(*args)`` with :func:`anyio.run` on *backend*."""
    import anyio

    if backend == "pike":
        _register_pike()
    elif backend == FLOOR:
        from benchmarks.floor import register

        register()

    return anyio.run(func, *args, **anyio_run_kwargs(backend))


def native_module(backend: str) -> Any:
    """Import the trio-shaped module (``pike`` or ``trio``) for the native suite."""
    import importlib

    if backend not in NATIVE_BACKENDS:
        raise ValueError(f"no native API for {backend!r}; native backends: pike, trio")
    return importlib.import_module(backend)
