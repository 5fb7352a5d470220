"""Start-up hook that lets anyio find its "pike" backend without a plug-in API.

anyio resolves ``backend="pike"`` by importing ``anyio._backends._pike``. A
``.pth`` line imports this module when the interpreter starts; it only appends a
finder to ``sys.meta_path`` that answers for that one module name, so nothing
(not anyio, not pike) is imported until anyio actually asks for the backend.
It imports nothing itself (not even ``typing``), so start-up pays for one tiny
module. Without anyio installed the name is never asked for, so the finder
never does anything.
"""

import sys

_NAME = "anyio._backends._pike"


class _PikeBackendFinder:
    """Finder *and* loader for ``anyio._backends._pike``; silent for every other name."""

    @classmethod
    def find_spec(cls, fullname: str, path: object = None, target: object = None) -> object:
        if fullname != _NAME:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, cls, origin="pike_anyio")  # type: ignore[arg-type]

    @staticmethod
    def create_module(spec: object) -> None:
        return None  # the default module object is fine

    @staticmethod
    def exec_module(module: object) -> None:
        # pike_anyio checks the anyio version before it touches anyio's internals.
        from pike_anyio import backend_class

        setattr(module, "backend_class", backend_class)  # noqa: B010


def install() -> None:
    """Add the finder once (a second install, e.g. from two .pth files, is a no-op)."""
    for finder in sys.meta_path:
        # By identity or, for another copy of this module, by name.
        if getattr(finder, "__qualname__", None) == "_PikeBackendFinder":
            return
    sys.meta_path.append(_PikeBackendFinder)  # type: ignore[arg-type]


install()
