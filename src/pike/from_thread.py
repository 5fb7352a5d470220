"""Call back into a pike run from one of its worker threads."""

from ._threads import from_thread_check_cancelled as check_cancelled
from ._threads import from_thread_run as run
from ._threads import from_thread_run_sync as run_sync

__all__ = ["check_cancelled", "run", "run_sync"]
