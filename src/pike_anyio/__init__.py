"""pike_anyio: anyio's third backend, ``anyio.run(main, backend="pike")``.

anyio finds it as ``anyio._backends._pike`` through a start-up hook installed
with the package (``_pike_anyio_hook``); importing this package checks that the
installed anyio is one the adapter supports before anything touches anyio's
private backend interface.
"""

from ._compat import SUPPORTED_RANGE, UnsupportedAnyioError, require_supported_anyio

require_supported_anyio()

from ._backend import PikeBackend  # noqa: E402

#: What anyio reads from a backend module.
backend_class = PikeBackend

__all__ = ["SUPPORTED_RANGE", "PikeBackend", "UnsupportedAnyioError", "backend_class"]
