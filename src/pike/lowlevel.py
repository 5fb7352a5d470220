"""pike's low-level API: the kernel's primitives, for libraries built on pike."""

from ._fdstream import FdStream
from ._handle import Handle
from ._kernel._current import current_clock, current_root_task, current_token, spawn_system_task
from ._kernel._guest import start_guest_run
from ._kernel._instruments import Instrument, add_instrument, remove_instrument
from ._kernel._ki import currently_ki_protected, disable_ki_protection, enable_ki_protection
from ._kernel._parking import ParkingLot, ParkingLotStatistics
from ._kernel._run import SteppedRun
from ._kernel._runvar import RunVar, RunVarToken
from ._kernel._state import current_task
from ._kernel._task import Task
from ._kernel._token import RunToken
from ._kernel._traps import (
    Abort,
    RaiseCancelT,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    reschedule,
    wait_task_rescheduled,
)
from ._lowlevel_io import current_notifier, notify_closing, wait_readable, wait_writable
from ._statistics import IOStatistics, RunStatistics, current_statistics
from ._subprocess import Process, open_process
from ._task_tree import dump_task_tree_on, format_task_tree, print_task_tree
from ._threads import current_default_thread_limiter

__all__ = [
    "Instrument",
    "add_instrument",
    "remove_instrument",
    "start_guest_run",
    "IOStatistics",
    "RunStatistics",
    "current_statistics",
    "dump_task_tree_on",
    "format_task_tree",
    "print_task_tree",
    "open_process",
    "Process",
    "FdStream",
    "Abort",
    "Handle",
    "ParkingLot",
    "ParkingLotStatistics",
    "RaiseCancelT",
    "RunToken",
    "RunVar",
    "RunVarToken",
    "SteppedRun",
    "Task",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "currently_ki_protected",
    "disable_ki_protection",
    "enable_ki_protection",
    "current_default_thread_limiter",
    "current_notifier",
    "current_root_task",
    "current_task",
    "current_token",
    "notify_closing",
    "reschedule",
    "spawn_system_task",
    "wait_readable",
    "wait_task_rescheduled",
    "wait_writable",
]
