"""``pike.socket``: the async twin of the stdlib ``socket`` module, shaped like ``trio.socket``.

It re-exports the stdlib's constants, exceptions and pure helper functions, and
replaces the rest: ``socket()``, ``socketpair()``, ``fromfd()`` and
``from_stdlib_socket()`` make pike sockets (``SocketType``) whose I/O methods are
async; ``getaddrinfo``/``getnameinfo`` run the blocking resolver in a worker
thread. Blocking stdlib helpers that would stall the run (``create_connection``,
``gethostbyname``, ...) are deliberately absent; use ``pike.open_tcp_stream`` or
``getaddrinfo`` instead.
"""

from ._dns import getaddrinfo as getaddrinfo
from ._dns import getnameinfo as getnameinfo
from ._socket import SocketType as SocketType
from ._socket import from_stdlib_socket as from_stdlib_socket
from ._socket import fromfd as fromfd
from ._socket import socket as socket
from ._socket import socketpair as socketpair

# After pike's own names: only constants and pure helpers exist at run time, but the type
# checker sees the whole stdlib module, whose socket/SocketType/getaddrinfo... lose here.
from ._socket_constants import *  # type: ignore[assignment]  # noqa: F403
