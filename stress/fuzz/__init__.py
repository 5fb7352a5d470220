"""Differential fuzzing of pike against trio.

hypothesis generates small structured-concurrency programs (``program``), one
interpreter runs each on pike and on trio under a mock clock (``interpreter``,
``backends``), and ``compare`` checks that pike's per-task traces and outcome are
among those trio produces. Long mode: ``python -m stress.fuzz --examples 20000``.
"""
