"""Abstract base classes users subclass to plug into pike."""

from ._kernel._instruments import Instrument

__all__ = ["Instrument"]
