"""Run blocking calls in worker threads: ``await pike.to_thread.run_sync(fn)``."""

from ._threads import current_default_thread_limiter, set_default_thread_limiter
from ._threads import to_thread_run_sync as run_sync

__all__ = ["current_default_thread_limiter", "run_sync", "set_default_thread_limiter"]
