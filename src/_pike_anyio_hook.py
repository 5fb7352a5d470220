"""Start-up hook: anyio finds its "pike" backend, and httpx works on it, with no user code.

anyio resolves ``backend="pike"`` by importing ``anyio._backends._pike``. A
``.pth`` line imports this module when the interpreter starts; it only puts a
finder on ``sys.meta_path`` that answers for a handful of module names, so
nothing (not anyio, not pike) is imported until one of them is asked for. It
imports nothing itself (not even ``typing``), so start-up pays for one tiny
module, and every other import pays one set lookup.

The other names are the modules of libraries that pick their implementation by
``sniffio.current_async_library()`` and know only "asyncio" and "trio":

* ``httpcore._synchronization`` (and httpcore2's): its ``current_async_library``
  refuses other names. Its "asyncio" path is written on anyio's public API, so on
  pike it is told "asyncio".
* ``httpx._transports.asgi`` (and httpx2's): ``create_event`` makes a
  ``trio.Event`` under trio and an ``asyncio.Event`` otherwise; on pike it makes
  an ``anyio.Event`` (same ``set``/``wait`` interface).

Each patch checks the patched function's shape first (name, no parameters, and
a constant or name only the known versions have); a shape it does not know is
left alone with one warning. Outside a pike run the patched functions behave
exactly as the originals.
"""

import sys

# mypy reads any `TYPE_CHECKING` as true, so the block below types this module
# without importing `typing` (or the modules it names) at interpreter start; the
# annotations that use those names are strings, never evaluated at runtime.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_NAME = "anyio._backends._pike"

#: Marks a function this hook wrapped (and gives back the original).
WRAPPED_ATTR = "__pike_wrapped__"


def _warn_unknown(module_name: str, what: str) -> None:
    import warnings

    warnings.warn(
        f"pike_anyio: {module_name}.{what} has a shape this pike_anyio does not know; "
        f"left unpatched, so it may refuse the 'pike' backend",
        RuntimeWarning,
        stacklevel=2,
    )


def _known_shape(module: object, attr: str, marker: str) -> bool:
    func = getattr(module, attr, None)
    code = getattr(func, "__code__", None)
    if code is None or code.co_argcount or code.co_kwonlyargcount:
        return False
    return marker in code.co_consts or marker in code.co_names


def patch_sniffio_environment(module: object) -> bool:
    """httpcore: report pike as "asyncio", so httpcore takes its anyio path."""
    name = getattr(module, "__name__", "?")
    real: Callable[[], str] | None = getattr(module, "current_async_library", None)
    if getattr(real, WRAPPED_ATTR, None) is not None:
        return True
    # (_known_shape is False for None too; the test is spelled out for the type checker)
    if real is None or not _known_shape(module, "current_async_library",
                                        "Running under an unsupported async environment."):
        _warn_unknown(name, "current_async_library")
        return False
    try:
        from sniffio import current_async_library as sniff
    except ImportError:
        return False  # httpcore then assumes asyncio by itself

    def current_async_library() -> str:
        if sniff() == "pike":
            return "asyncio"  # httpcore's name for its anyio-based implementation
        return real()

    setattr(current_async_library, WRAPPED_ATTR, real)
    setattr(module, "current_async_library", current_async_library)  # noqa: B010
    return True


def patch_asgi_event(module: object) -> bool:
    """httpx's ASGITransport: an anyio Event on pike instead of an asyncio one."""
    name = getattr(module, "__name__", "?")
    real: Callable[[], object] | None = getattr(module, "create_event", None)
    if getattr(real, WRAPPED_ATTR, None) is not None:
        return True
    if real is None or not _known_shape(module, "create_event", "is_running_trio"):
        _warn_unknown(name, "create_event")
        return False
    try:
        from sniffio import current_async_library as sniff
    except ImportError:
        return False

    def create_event() -> object:
        if sniff() == "pike":
            from anyio import Event

            return Event()
        return real()

    setattr(create_event, WRAPPED_ATTR, real)
    setattr(module, "create_event", create_event)  # noqa: B010
    return True


#: Module name -> the patch applied right after it executes.
PATCHES = {
    "httpcore._synchronization": patch_sniffio_environment,
    "httpcore2._synchronization": patch_sniffio_environment,
    "httpx._transports.asgi": patch_asgi_event,
    "httpx2._transports.asgi": patch_asgi_event,
}


class _PatchingLoader:
    """Runs the real loader, then the patch; everything else goes to the real loader."""

    def __init__(self, real: "Loader", patch: "Callable[[ModuleType], bool]") -> None:
        self._real = real
        self._patch = patch

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        return self._real.create_module(spec)

    def exec_module(self, module: "ModuleType") -> None:
        self._real.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


class _PikeBackendFinder:
    """Finder for ``anyio._backends._pike`` and the patched modules; silent for the rest."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname == _NAME:
            from importlib.machinery import ModuleSpec

            # ModuleSpec is typed for an importlib.abc.Loader; this class is a loader by
            # shape (create_module/exec_module), and subclassing the ABC would import
            # importlib.abc at every interpreter start.
            return ModuleSpec(fullname, cls, origin="pike_anyio")  # type: ignore[arg-type]  # loader by shape
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if getattr(finder, "__qualname__", None) == "_PikeBackendFinder":
                continue
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    # A loader by shape, not an importlib.abc.Loader subclass (see above).
                    spec.loader = _PatchingLoader(spec.loader, patch)  # type: ignore[assignment]  # loader by shape
                return spec
        return None

    @staticmethod
    def create_module(spec: "ModuleSpec") -> None:
        return None  # the default module object is fine

    @staticmethod
    def exec_module(module: "ModuleType") -> None:
        # pike_anyio checks the anyio version before it touches anyio's internals.
        import pike_anyio

        for name in pike_anyio.BACKEND_MODULE_NAMES:
            setattr(module, name, getattr(pike_anyio, name))
        # As for anyio's own backends, the backend class's module is the backend
        # module, so sys.modules[get_async_backend().__module__] finds these names.
        pike_anyio.backend_class.__module__ = _NAME


def install() -> None:
    """Add the finder once (a second install, e.g. from two .pth files, is a no-op).

    It goes first: the modules it patches would otherwise be found (and run
    unpatched) by the path finder before it is asked.
    """
    for finder in sys.meta_path:
        # By identity or, for another copy of this module, by name.
        if getattr(finder, "__qualname__", None) == "_PikeBackendFinder":
            return
    sys.meta_path.insert(0, _PikeBackendFinder)


install()
