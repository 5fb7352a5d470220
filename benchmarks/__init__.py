"""pike vs asyncio, uvloop, rloop and trio through anyio (and pike vs trio natively).

The point of this package is an *honest* comparison: the very same plain
``async def`` programs, written against anyio's public API only, run on every
backend; each (round, workload, backend) runs in a fresh interpreter so no
backend inherits another's warm caches, threads or heap; rounds are interleaved
so slow drift of the machine (thermal, other load) hits all backends alike; and
the median of the rounds is reported.  Nothing is tuned per backend.

Modules, one concern each:

- :mod:`benchmarks.backends`           how each backend name is run
- :mod:`benchmarks.workloads`          the anyio workloads
- :mod:`benchmarks.native`             the native workloads (``pike.run`` vs ``trio.run``)
- :mod:`benchmarks.http_workload`      the ASGI app served by anycorn, and load generation
- :mod:`benchmarks.loadgen`            the Python HTTP load client (fallback when wrk is absent)
- :mod:`benchmarks.worker`             the per-process entry: runs one workload on one backend
- :mod:`benchmarks.orchestrator`       rounds, process spawning, medians, exit status
- :mod:`benchmarks.report`             table, JSON and the ratio chart

Run ``python -m benchmarks --help``.
"""
