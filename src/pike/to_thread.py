"""Run blocking calls in worker threads: ``await pike.to_thread.run_sync(fn)``."""

from ._kernel._threads import current_default_thread_limiter
from ._kernel._threads import to_thread_run_sync as run_sync

__all__ = ["current_default_thread_limiter", "run_sync"]
