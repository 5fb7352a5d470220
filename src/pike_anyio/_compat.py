"""Which anyio releases pike_anyio supports, and a clear refusal for the others.

anyio's backend interface (``anyio.abc.AsyncBackend`` and the private modules a
backend imports) is not public and changes between minor releases. Running an
adapter written for one release against another would fail in confusing ways
deep inside a run, so the check happens once, when anyio first asks for the
"pike" backend, and names the range that works.
"""

from __future__ import annotations

import importlib.metadata
import re

#: The anyio releases this adapter is written for (keep in step with pyproject.toml).
SUPPORTED_RANGE = ">=4.16,<4.17"
_LOWEST = (4, 16)
_BEYOND = (4, 17)


class UnsupportedAnyioError(RuntimeError):
    """The installed anyio is outside the range pike_anyio supports.

    A RuntimeError rather than an ImportError: anyio turns an ImportError from a
    backend module into "No such backend", which would hide the real reason.
    """


def installed_anyio_version() -> str:
    return importlib.metadata.version("anyio")


def require_supported_anyio() -> None:
    """Raise ``UnsupportedAnyioError`` unless the installed anyio is supported."""
    found = installed_anyio_version()
    match = re.match(r"(\d+)\.(\d+)", found)
    release = (int(match[1]), int(match[2])) if match else None
    if release is None or not _LOWEST <= release < _BEYOND:
        raise UnsupportedAnyioError(
            f"the 'pike' anyio backend supports anyio{SUPPORTED_RANGE}, but anyio "
            f"{found} is installed (anyio's backend interface is private and changes "
            f"between minor releases); install a supported one: "
            f"pip install 'anyio{SUPPORTED_RANGE}'"
        )
