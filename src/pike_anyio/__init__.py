"""pike_anyio: anyio's third backend, ``anyio.run(main, backend="pike")``.

anyio finds it as ``anyio._backends._pike`` through a start-up hook installed
with the package (``_pike_anyio_hook``); importing this package checks that the
installed anyio is one the adapter supports before anything touches anyio's
private backend interface.

The module-level names below are the ones anyio's own backend modules offer
(``anyio._backends._trio`` and ``_asyncio``): some libraries reach for them
through ``get_async_backend()``'s module, e.g. ``get_asynclib().TaskGroup``,
so the hook copies ``BACKEND_MODULE_NAMES`` into ``anyio._backends._pike``.
"""

from ._compat import (
    SUPPORTED_RANGE,
    WANTS_BLOCKING_PORTAL,
    MissingBackendMethodError,
    UnsupportedAnyioError,
    require_supported_anyio,
)

require_supported_anyio()

from ._backend import PikeBackend  # noqa: E402
from ._cancel import CancelScope  # noqa: E402
from ._process import Process  # noqa: E402
from ._sockets import (  # noqa: E402
    ConnectedUDPSocket,
    ConnectedUNIXDatagramSocket,
    SocketStream,
    TCPSocketListener,
    UDPSocket,
    UNIXDatagramSocket,
    UNIXSocketListener,
    UNIXSocketStream,
)
from ._sync import CapacityLimiter, Event, Lock, Semaphore  # noqa: E402
from ._taskgroup import TaskGroup  # noqa: E402
from ._testing import TestRunner  # noqa: E402

#: What anyio reads from a backend module.
backend_class = PikeBackend

#: The names ``anyio._backends._pike`` exposes, as anyio's trio and asyncio backends do.
BACKEND_MODULE_NAMES: tuple[str, ...] = (
    "backend_class",
    "CancelScope",
    "CapacityLimiter",
    "ConnectedUDPSocket",
    "ConnectedUNIXDatagramSocket",
    "Event",
    "Lock",
    "Process",
    "Semaphore",
    "SocketStream",
    "TCPSocketListener",
    "TaskGroup",
    "TestRunner",
    "UDPSocket",
    "UNIXDatagramSocket",
    "UNIXSocketListener",
    "UNIXSocketStream",
)

if WANTS_BLOCKING_PORTAL:  # anyio 4.9-4.12: backend modules also define their portal class
    from ._portal import BlockingPortal  # noqa: F401

    BACKEND_MODULE_NAMES += ("BlockingPortal",)

__all__ = [
    "BACKEND_MODULE_NAMES",
    "SUPPORTED_RANGE",
    "CancelScope",
    "CapacityLimiter",
    "ConnectedUDPSocket",
    "ConnectedUNIXDatagramSocket",
    "Event",
    "Lock",
    "MissingBackendMethodError",
    "PikeBackend",
    "Process",
    "Semaphore",
    "SocketStream",
    "TCPSocketListener",
    "TaskGroup",
    "TestRunner",
    "UDPSocket",
    "UNIXDatagramSocket",
    "UNIXSocketListener",
    "UNIXSocketStream",
    "UnsupportedAnyioError",
    "backend_class",
]
