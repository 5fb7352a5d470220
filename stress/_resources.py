"""What a suite measures before and after: open fds, live threads, resident memory.

A leak shows up as a count that does not come back to its baseline, so every suite
takes a ``Snapshot`` before its work and compares one taken after.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    """Current resident set size (not the peak that ``getrusage`` reports)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def live_threads() -> int:
    return threading.active_count()


@dataclass(frozen=True)
class Snapshot:
    fds: int
    threads: int
    rss_kib: int

    @classmethod
    def take(cls, settle: float = 0.0) -> Snapshot:
        """Measure now; ``settle`` waits (up to that many seconds) for exiting threads."""
        gc.collect()
        deadline = time.monotonic() + settle
        while settle and time.monotonic() < deadline and live_threads() > 1:
            time.sleep(0.01)
        return cls(open_fds(), live_threads(), rss_kib())

    def describe(self) -> str:
        return f"fds={self.fds} threads={self.threads} rss={self.rss_kib / 1024:.1f}MiB"


def wait_for_threads(count: int, timeout: float = 10.0) -> int:
    """Wait until at most ``count`` threads are alive (a worker may still be exiting)."""
    deadline = time.monotonic() + timeout
    while live_threads() > count and time.monotonic() < deadline:
        time.sleep(0.01)
    return live_threads()


@dataclass
class Complaints:
    """Unraisable exceptions and ResourceWarnings seen while a block ran."""

    unraisable: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.unraisable or self.warnings)

    def __str__(self) -> str:
        return "; ".join(self.unraisable + self.warnings)


@contextmanager
def complaints() -> Iterator[Complaints]:
    """Collect what Python would only print: unraisable errors, ResourceWarnings.

    A leaked socket or a task exception nobody retrieved surfaces here (after a
    ``gc.collect``) instead of as noise on an unrelated test.
    """
    found = Complaints()
    old_hook = sys.unraisablehook

    def hook(info: sys.UnraisableHookArgs) -> None:
        found.unraisable.append(f"{info.exc_type.__name__}: {info.exc_value!r} in {info.object!r}")

    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            yield found
            gc.collect()
        found.warnings.extend(
            str(w.message) for w in caught if issubclass(w.category, ResourceWarning)
        )
    finally:
        sys.unraisablehook = old_hook


def raise_nofile(wanted: int) -> int:
    """Raise the soft fd limit towards ``wanted`` (capped by the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
