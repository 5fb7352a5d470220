"""Name resolution: ``getaddrinfo``/``getnameinfo`` off the run's thread.

The C resolver blocks (it may talk to DNS servers for seconds), so both calls
run in a worker thread with ``abandon_on_cancel=True``: a cancelled lookup
returns at once and the thread's late answer is dropped. Numeric hosts skip the
thread entirely: ``AI_NUMERICHOST`` makes the resolver a pure parser that never
blocks, and most addresses a program passes to ``bind``/``connect`` are numeric.
"""

from __future__ import annotations

import socket as _stdlib_socket
from collections.abc import Callable
from typing import Any, cast

from ._kernel._traps import cancel_shielded_checkpoint, checkpoint_if_cancelled
from ._threads import to_thread_run_sync

# (family, type, proto, canonname, sockaddr), as the stdlib returns them.
AddrInfo = tuple[_stdlib_socket.AddressFamily, _stdlib_socket.SocketKind, int, str, Any]
# typeshed's exact per-family union is correct but too fine for callers to use.
_gai = cast(Callable[..., list[AddrInfo]], _stdlib_socket.getaddrinfo)

_NUMERIC_ONLY = _stdlib_socket.AI_NUMERICHOST | _stdlib_socket.AI_NUMERICSERV


def _numeric_getaddrinfo(
    host: Any, port: Any, family: int, type: int, proto: int, flags: int
) -> list[AddrInfo] | None:
    """The answer if ``host``/``port`` need no lookup, else None."""
    try:
        return _gai(host, port, family, type, proto, flags | _NUMERIC_ONLY)
    except OSError:
        # EAI_NONAME: a real name. Other errors (bad family, say) will come
        # back from the full lookup too, with the resolver's own wording.
        return None


async def getaddrinfo(
    host: bytes | str | None,
    port: bytes | str | int | None,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[AddrInfo]:
    """Like ``socket.getaddrinfo``, but a checkpoint that never blocks the run."""
    if host is not None and not isinstance(host, (str, bytes, bytearray)):
        raise TypeError(f"host must be str, bytes or None, not {type_name(host)}")
    await checkpoint_if_cancelled()
    numeric = _numeric_getaddrinfo(host, port, family, type, proto, flags)
    if numeric is not None:
        await cancel_shielded_checkpoint()
        return numeric
    return await to_thread_run_sync(
        _gai,
        host,
        port,
        family,
        type,
        proto,
        flags,
        abandon_on_cancel=True,
    )


async def getnameinfo(sockaddr: tuple[Any, ...], flags: int) -> tuple[str, str]:
    """Like ``socket.getnameinfo``, in a worker thread (reverse DNS blocks)."""
    await checkpoint_if_cancelled()
    return await to_thread_run_sync(
        _stdlib_socket.getnameinfo, sockaddr, flags, abandon_on_cancel=True
    )


def type_name(obj: object) -> str:
    return type(obj).__name__


async def resolve_address_nocp(
    address: Any, family: int, type: int, proto: int, *, local: bool
) -> Any:
    """Turn a user's address for ``bind``/``connect``/``sendto`` into a sockaddr.

    Not a checkpoint by itself (the socket operation that follows is one); it
    only yields when a real name has to be looked up in a worker thread.

    Like trio: IP families get their host looked up (numeric ones instantly),
    ``""`` and ``"<broadcast>"`` keep their special meaning, a 2-tuple for
    AF_INET6 gets flowinfo and scope id filled in; other families (AF_UNIX
    paths, ...) pass through untouched.
    """
    if family not in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
        return address
    if not isinstance(address, tuple):
        raise ValueError(f"address should be a (host, port, ...) tuple, not {address!r}")
    if family == _stdlib_socket.AF_INET and len(address) != 2:
        raise ValueError(f"AF_INET addresses are (host, port) tuples, not {address!r}")
    if family == _stdlib_socket.AF_INET6 and not 2 <= len(address) <= 4:
        raise ValueError(
            f"AF_INET6 addresses are (host, port[, flowinfo[, scope_id]]) tuples, not {address!r}"
        )
    host, port, *rest = address
    if isinstance(host, bytes):
        host = host.decode("ascii")
    if host == "":
        host = None  # with AI_PASSIVE: the wildcard address; without: loopback
    elif host == "<broadcast>" and family == _stdlib_socket.AF_INET:
        return ("255.255.255.255", port)
    flags = _stdlib_socket.AI_PASSIVE if local else 0
    if family == _stdlib_socket.AF_INET6:
        flags |= _stdlib_socket.AI_V4MAPPED
    infos = _numeric_getaddrinfo(host, port, family, type, proto, flags)
    if infos is None:
        infos = await to_thread_run_sync(
            _gai, host, port, family, type, proto, flags,
            abandon_on_cancel=True,
        )
    if not infos:
        raise OSError(f"no addresses found for {address!r}")
    sockaddr = infos[0][4]
    if family == _stdlib_socket.AF_INET6 and rest:
        # Keep the caller's flowinfo / scope id; getaddrinfo knows neither.
        sockaddr = (sockaddr[0], sockaddr[1], *rest, *sockaddr[2 + len(rest) :])
    return sockaddr
