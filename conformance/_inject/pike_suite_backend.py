"""pytest plugin that runs a third-party anyio library's suite on one chosen backend.

Loaded with `-p pike_suite_backend` from its own directory on PYTHONPATH, so it
imports nothing of ours: the suite under test keeps its own `tests` package and
its own conftest. Libraries such as httpx and starlette take their backends from
anyio's pytest plugin, whose `anyio_backend` fixture is parametrized over
asyncio and trio. A direct `parametrize` mark on a test takes precedence over a
fixture's params, so adding one mark per test replaces that list with the one
backend this run is for, without editing the suite. Tests that parametrize
`anyio_backend` themselves keep their marks; only their params for other
backends are deselected.

Every test gets the same param id ("backend") in every run, so the runs' node
ids line up and can be compared one to one. Outcomes go to a JSON file.

The suite's extra test requirements live in their own directory (env
`PIKE_SUITE_DEPS`), appended to the END of sys.path here, before any conftest is
imported: they fill in what the environment lacks and never shadow what it has.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

PARAM_ID = "backend"
_ARG = "anyio_backend"
DEPS_ENV = "PIKE_SUITE_DEPS"

if (_deps := os.environ.get(DEPS_ENV)) and _deps not in sys.path:
    sys.path.append(_deps)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pike-suite")
    group.addoption("--suite-backend", help="run every anyio test on this backend only")
    group.addoption("--suite-out", help="write each test's outcome to this JSON file")


def _backend_name(value: Any) -> str:
    return value if isinstance(value, str) else str(value[0])


def _parametrizes_backend(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if _ARG in names:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    backend = metafunc.config.getoption("suite_backend")
    if not backend or _ARG not in metafunc.fixturenames or _parametrizes_backend(metafunc):
        return
    # module scope, like anyio's own fixture, so module-scoped async fixtures still work
    metafunc.definition.add_marker(
        pytest.mark.parametrize(_ARG, [backend], ids=[PARAM_ID], scope="module"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("suite_backend")
    if not backend:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if _ARG in params and _backend_name(params[_ARG]) != backend:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class _Recorder:
    """Folds the setup/call/teardown reports of each test into one outcome."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        current = self.outcomes.get(report.nodeid)
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            if current is None or current["outcome"] not in ("failed", "error"):
                self.outcomes[report.nodeid] = {"outcome": outcome,
                                                "message": _message(report)}
        elif report.skipped and current is None:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            self.outcomes[report.nodeid] = {"outcome": outcome, "message": _message(report)}
        elif report.when == "call" and report.passed and current is None:
            self.outcomes[report.nodeid] = {"outcome": "passed", "message": ""}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = {"outcome": "error", "message": _message(report)}

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.outcomes, indent=0, sort_keys=True))


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:300] if crash.message else ""
    if isinstance(report.longrepr, tuple):  # skips: (path, line, reason)
        return str(report.longrepr[2])[:300]
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1][:300] if text else ""


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("suite_out")
    if out:
        config.pluginmanager.register(_Recorder(Path(out)), "pike-suite-recorder")
