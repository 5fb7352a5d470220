"""The ``max_bytes`` rule shared by every byte stream's ``receive_some``."""

from __future__ import annotations

DEFAULT_RECEIVE_SIZE = 65536


def receive_size(max_bytes: int | None) -> int:
    """``max_bytes`` checked (a positive int), or the default when None."""
    if max_bytes is None:
        return DEFAULT_RECEIVE_SIZE
    if not isinstance(max_bytes, int):
        raise TypeError(f"max_bytes must be an int, not {type(max_bytes).__name__}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, not {max_bytes}")
    return max_bytes
