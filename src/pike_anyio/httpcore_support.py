"""httpcore/httpx (and httpcore2/httpx2) on pike.

Nothing to call in a normal install: the start-up hook (``_pike_anyio_hook``)
patches these libraries' async-environment checks as they are imported (see
its docstring for what and why). ``enable()`` applies the same patches by hand
for interpreters started without the hook (``python -S``, a frozen app, or
modules imported before the hook was installed); it skips libraries that are
not installed and is idempotent. ``disable()`` restores the originals.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

import _pike_anyio_hook as _hook

if not hasattr(_hook, "PATCHES"):  # an older copy of the hook, left by an older install
    raise ImportError(
        f"{_hook.__file__} is from an older pike-anyio; reinstall pike-anyio "
        f"(pip install --force-reinstall pike-anyio, or pip install -e . in a checkout)"
    )

#: Modules that import httpcore's check by name, so hold their own reference to it.
_ALIASES = {
    "httpcore._synchronization": ("httpcore._backends.auto",),
    "httpcore2._synchronization": ("httpcore2._backends.auto",),
}


def _installed(module_name: str) -> ModuleType | None:
    top = module_name.partition(".")[0]
    if importlib.util.find_spec(top) is None:
        return None
    return importlib.import_module(module_name)


def _rebind_aliases(module_name: str, attr: str, module: ModuleType) -> None:
    for alias_name in _ALIASES.get(module_name, ()):
        alias = importlib.import_module(alias_name)
        setattr(alias, attr, getattr(module, attr))


def enable() -> None:
    """Patch every installed library the hook knows. Idempotent."""
    for module_name, patch in _hook.PATCHES.items():
        module = _installed(module_name)
        if module is not None and patch(module) and module_name in _ALIASES:
            _rebind_aliases(module_name, "current_async_library", module)


def disable() -> None:
    """Undo the patches (the hook's and ``enable()``'s) in modules already imported."""
    for module_name in _hook.PATCHES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for attr in ("current_async_library", "create_event"):
            real = getattr(getattr(module, attr, None), _hook.WRAPPED_ATTR, None)
            if real is not None:
                setattr(module, attr, real)
                if module_name in _ALIASES:
                    _rebind_aliases(module_name, attr, module)
