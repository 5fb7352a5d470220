"""Opening client streams: ``open_tcp_stream`` (happy eyeballs) and ``open_unix_socket``.

Happy eyeballs (RFC 8305, as trio does it): the host's addresses are tried in
order, each attempt starting when the previous one fails or after
``happy_eyeballs_delay`` seconds, whichever comes first; the first connection
to succeed wins and the others are cancelled (a cancelled connect closes its
socket). A name with both IPv6 and IPv4 addresses thus connects quickly even
when one family is broken.
"""

from __future__ import annotations

import math
import socket as _stdlib_socket
from collections.abc import Callable
from typing import Any

from ._dns import AddrInfo, getaddrinfo
from ._kernel._cancel import move_on_after
from ._kernel._nursery import open_nursery
from ._socket import SocketType, socket
from ._streams import SocketStream
from ._sync import Event

DEFAULT_DELAY = 0.250


def _reorder(targets: list[AddrInfo]) -> list[AddrInfo]:
    """RFC 6555 §5.4: the first address of the other family is tried second.

    So a host whose first family is broken costs one delay, not one per
    address of that family. Everything else keeps the resolver's order.
    """
    first_family = targets[0][0]
    other = next((i for i, t in enumerate(targets) if t[0] != first_family), None)
    if other is None or other == 1:
        return targets
    return [targets[0], targets[other], *targets[1:other], *targets[other + 1 :]]


class _Attempts:
    """The shared state of one ``open_tcp_stream`` race."""

    def __init__(self, local_address: str | None) -> None:
        self.local_address = local_address
        self.winner: SocketType | None = None
        self.errors: list[OSError] = []

    async def attempt(self, target: AddrInfo, failed: Event, won: Callable[[], None]) -> None:
        family, type_, proto, _, sockaddr = target
        try:
            sock = socket(family, type_, proto)
        except OSError as exc:
            self.errors.append(exc)
            failed.set()
            return
        try:
            if self.local_address is not None:
                # Let connect() pick the port, so a busy local port is not an
                # error here (Linux's IP_BIND_ADDRESS_NO_PORT).
                option = getattr(_stdlib_socket, "IP_BIND_ADDRESS_NO_PORT", None)
                if option is not None:
                    try:
                        sock.setsockopt(_stdlib_socket.IPPROTO_IP, option, 1)
                    except OSError:
                        pass
                await sock.bind((self.local_address, 0))
            await sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            self.errors.append(exc)
            failed.set()
            return
        except BaseException:
            sock.close()
            raise
        if self.winner is None:
            self.winner = sock
            won()
        else:
            sock.close()  # lost a photo finish


async def open_tcp_stream(
    host: str | bytes,
    port: int,
    *,
    happy_eyeballs_delay: float | None = DEFAULT_DELAY,
    local_address: str | None = None,
) -> SocketStream:
    """Connect to ``host``:``port`` over TCP and return a ``SocketStream``.

    Raises ``OSError`` when every address fails; its ``__cause__`` groups the
    individual errors, and its ``errno`` is theirs when they all agree
    (``ECONNREFUSED``, typically).
    """
    if not isinstance(host, (str, bytes)):
        raise TypeError(f"host must be str or bytes, not {type(host).__name__}")
    if not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    delay = math.inf if happy_eyeballs_delay is None else happy_eyeballs_delay
    if delay < 0:
        raise ValueError("happy_eyeballs_delay must be >= 0 or None")
    targets = await getaddrinfo(host, port, type=_stdlib_socket.SOCK_STREAM)
    if not targets:
        raise OSError(f"no addresses found for {host!r}")
    targets = _reorder(targets)
    race = _Attempts(local_address)
    if len(targets) == 1:
        # Nothing to race: skip the nursery.
        await race.attempt(targets[0], Event(), _nothing)
    else:
        async with open_nursery() as nursery:
            for target in targets:
                failed = Event()
                nursery.start_soon(race.attempt, target, failed, nursery.cancel_scope.cancel)
                with move_on_after(delay):
                    await failed.wait()
    if race.winner is not None:
        return SocketStream(race.winner)
    errnos = {exc.errno for exc in race.errors}
    message = f"all attempts to connect to {host!r}:{port} failed"
    error = OSError(errnos.pop(), message) if len(errnos) == 1 else OSError(message)
    raise error from ExceptionGroup(message, race.errors)


def _nothing() -> None:
    pass


async def open_unix_socket(path: str | bytes | Any) -> SocketStream:
    """Connect to the Unix-domain stream socket at ``path``."""
    if not hasattr(_stdlib_socket, "AF_UNIX"):
        raise RuntimeError("Unix sockets are not supported on this platform")
    sock = socket(_stdlib_socket.AF_UNIX, _stdlib_socket.SOCK_STREAM)
    try:
        await sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return SocketStream(sock)
