"""Tools for testing code that runs on pike."""

from .._kernel._idle import wait_all_tasks_blocked
from ._check_streams import check_half_closeable_stream, check_one_way_stream, check_two_way_stream
from ._memory_streams import (
    MemoryReceiveStream,
    MemorySendStream,
    lockstep_stream_one_way_pair,
    lockstep_stream_pair,
    memory_stream_one_way_pair,
    memory_stream_pair,
    memory_stream_pump,
)
from ._mock_clock import MockClock
from ._sequencer import Sequencer
from ._stapled import StapledStream

__all__ = [
    "MemoryReceiveStream",
    "MemorySendStream",
    "MockClock",
    "Sequencer",
    "StapledStream",
    "check_half_closeable_stream",
    "check_one_way_stream",
    "check_two_way_stream",
    "lockstep_stream_one_way_pair",
    "lockstep_stream_pair",
    "memory_stream_one_way_pair",
    "memory_stream_pair",
    "memory_stream_pump",
    "wait_all_tasks_blocked",
]
