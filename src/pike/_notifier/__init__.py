"""Picks the notifier for this platform; the only place that knows them all."""

from __future__ import annotations

import select
import sys
from collections.abc import Callable

from ._base import Notifier, Reactor, fileno_of


def _epoll() -> Notifier:
    from .epoll import EpollNotifier

    return EpollNotifier()


def _poll() -> Notifier:
    from .poll import PollNotifier

    return PollNotifier()


_FACTORIES: dict[str, Callable[[], Notifier]] = {"poll": _poll}
if hasattr(select, "epoll"):
    _FACTORIES["epoll"] = _epoll


def available_notifiers() -> list[str]:
    """Names accepted by ``pike.run(..., notifier=NAME)`` on this platform."""
    return sorted(_FACTORIES)


def notifier_by_name(name: str) -> Notifier:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"unknown notifier {name!r} on {sys.platform}; available: {available_notifiers()}"
        ) from None
    return factory()


def default_notifier() -> Notifier:
    """The best notifier this platform has."""
    return (_FACTORIES.get("epoll") or _poll)()


__all__ = [
    "Notifier",
    "Reactor",
    "available_notifiers",
    "default_notifier",
    "fileno_of",
    "notifier_by_name",
]
