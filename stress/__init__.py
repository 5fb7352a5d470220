"""Stress suites for pike: evidence that it holds up, kept in the project so CI guards it.

Each module is one suite with its own CI mode (run from ``tests/``) and a long mode run as
``python -m stress.<module>``; each prints its figures.
"""
