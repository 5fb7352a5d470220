"""Run the pytest processes in private namespaces that give them an IPv6 `localhost`.

anyio parametrizes about 90 socket tests over IPv4 and IPv6 and binds the IPv6
ones to "localhost". Many machines (containers especially) have `::1` on the
loopback but no `::1 localhost` line in /etc/hosts, so those tests cannot run
and would go unchecked on pike. As root, a private mount namespace gives each
pytest process its own view of /etc/hosts (a private copy, bind-mounted over it,
that maps `localhost` to both 127.0.0.1 and ::1). The host is untouched, and
every backend runs the same way, so the comparison stays fair.

Two layouts, the first that works here wins:

* `unshare --mount` alone, keeping the host's network: enough when the host has
  `::1` on its loopback and the non-loopback addresses glibc wants (see
  _NET_SCRIPT). Tests that need the network still work (anyio's
  test_sourceless_install pip-installs anyio from the package index);
* `unshare --net --mount`: a private network with no route off the machine, for
  hosts whose own network cannot serve. Tests that need the index then fail,
  on every backend alike.

Where namespaces are unavailable (not root, no `unshare`, a sandbox that forbids
them) the harness runs as before and says why; the plugin then skips the IPv6
tests on every backend.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

# glibc's AI_ADDRCONFIG (anyio's create_tcp_listener passes it) returns a family's
# addresses only if some *non-loopback* interface has one of that family, so a
# namespace with just `lo` resolves nothing. A veth pair that leads nowhere, with a
# documentation-range IPv4 and a unique-local IPv6 address, satisfies it.
_MOUNT_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"'
_NET_SCRIPT = (
    # No duplicate-address detection: it keeps new IPv6 addresses "tentative" (unbindable)
    # for a moment, which anyio's link-local test would hit. Best effort.
    '(echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad) 2>/dev/null;'
    ' ip link set lo up && ip link add pikeconf0 type veth peer name pikeconf1'
    ' && ip addr add 192.0.2.1/32 dev pikeconf0 && ip addr add fd00:706b::1/128 dev pikeconf0'
    ' && ip link set pikeconf0 up && ip link set pikeconf1 up'
    ' && mount --bind "$0" /etc/hosts && exec "$@"'
)
_CHECK = (
    "import socket\n"
    "flags = socket.AI_PASSIVE | socket.AI_ADDRCONFIG\n"
    "addrs = {a[4][0] for a in socket.getaddrinfo('localhost', 0, 0, socket.SOCK_STREAM, 0,"
    " flags)}\n"
    "assert {'127.0.0.1', '::1'} <= addrs, addrs\n"
    "s = socket.socket(socket.AF_INET6)\n"
    "s.bind(('::1', 0))\n"
    "s.close()\n"
)


def hosts_text(original: str) -> str:
    """/etc/hosts with `localhost` on both loopback addresses, other names kept.

    The machine's own names (its hostname, say) stay, since tests may resolve
    them; only `localhost` is removed from other lines so it has exactly the
    two addresses the tests expect.
    """
    lines = ["127.0.0.1 localhost", "::1 localhost"]
    for line in original.splitlines():
        body = line.split("#", 1)[0].split()
        if len(body) < 2:
            continue
        names = [name for name in body[1:] if name != "localhost"]
        if names:
            lines.append(" ".join([body[0], *names]))
    return "\n".join(lines) + "\n"


def namespace_wrapper(workdir: Path) -> tuple[tuple[str, ...], str | None]:
    """(command prefix, None) when namespaces work here, else ((), why not).

    The check runs a real interpreter inside a namespace built the same way, so
    "works" means an IPv6 `localhost` was actually resolved and bound.
    """
    if sys.platform != "linux":
        return (), "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return (), "not running as root (unshare --net --mount needs it)"
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return (), f"`{tool}` is not installed"
    workdir.mkdir(parents=True, exist_ok=True)
    hosts = workdir / "hosts"
    try:
        hosts.write_text(hosts_text(Path("/etc/hosts").read_text()))
    except OSError as exc:
        return (), f"cannot read /etc/hosts ({exc})"
    why = ""
    for flags, script in ((("--mount",), _MOUNT_SCRIPT), (("--net", "--mount"), _NET_SCRIPT)):
        wrapper = ("unshare", *flags, "--", "sh", "-c", script, str(hosts))
        try:
            proc = subprocess.run([*wrapper, sys.executable, "-c", _CHECK],
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc)
            continue
        if proc.returncode == 0:
            return wrapper, None
        lines = proc.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit {proc.returncode}"
    return (), f"the namespace check failed ({why})"


def host_has_ipv6_localhost() -> bool:
    """Whether `localhost` resolves to an IPv6 address outside any namespace."""
    try:
        socket.getaddrinfo("localhost", 0, socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    return True
