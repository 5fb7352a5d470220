"""The stdlib socket module's constants and pure helpers, re-exported by ``pike.socket``.

The helpers are the functions that never block (byte-order and address
conversions, exception classes); resolver functions that do block are left out.

At run time ``__all__`` is every all-caps name the platform's socket module has,
plus the helpers, so the file follows whatever that module offers. For the type
checker the module is a star import of ``socket``: ``pike.socket`` binds its own
``socket``, ``SocketType``, ``getaddrinfo``... *before* star-importing this, so
those keep pike's types (its one suppressed mypy error acknowledges the clash).
"""

from __future__ import annotations

import socket as _stdlib_socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socket import *  # noqa: F403
else:
    _HELPERS = (
        "AddressFamily", "SocketKind", "error", "gaierror", "herror", "timeout", "has_ipv6",
        "gethostname", "getprotobyname", "htonl", "htons", "ntohl", "ntohs",
        "if_indextoname", "if_nameindex", "if_nametoindex",
        "inet_aton", "inet_ntoa", "inet_ntop", "inet_pton",
    )
    __all__ = [n for n in _stdlib_socket.__all__ if n.isupper()] + list(_HELPERS)
    globals().update({name: getattr(_stdlib_socket, name) for name in __all__})
