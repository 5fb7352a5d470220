"""pytest plugin that runs anyio's unmodified test suite on extra backends.

Loaded first (`-p conformance.plugin`), before anyio's `tests/conftest.py` is
imported. It does four things, each only when asked:

* registers extra backend names (env `PIKE_CONFORMANCE_BACKENDS`, e.g. "pike")
  in anyio's list of built-in backends, which is what the conftest builds its
  `anyio_backend` params from. It is an environment variable, not an option, so
  the nested pytest runs of anyio's own pytest-plugin tests (which inherit the
  environment and load this plugin through `PYTEST_PLUGINS`) see the same list
  as the outer run;
* adds a `pike+poll` param, `("pike", {"notifier": "poll"})`, next to the
  conftest's plain "pike" param (`--conformance-poll`);
* keeps only the tests of the selected backend labels (`--conformance-select`),
  so each backend runs in its own process;
* records every test's outcome as it finishes (`--conformance-out`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from anyio._core import _eventloop

try:
    from anyio import get_available_backends
except ImportError:  # anyio before 4.10 has no such function: every listed backend counts
    get_available_backends = _eventloop.get_all_backends

from conformance.backends import BACKENDS_ENV
from conformance.outcomes import (
    ERROR,
    FAILED,
    NO_BACKEND,
    NO_IPV6_LOCALHOST,
    PASSED,
    SKIPPED,
    TIMEOUT,
    UNAVAILABLE,
    XFAILED,
    XPASSED,
)

POLL_LABEL = "pike+poll"
POLL_VALUE = ("pike", {"notifier": "poll"})
_SEVERITY = {PASSED: 0, XPASSED: 0, XFAILED: 0, SKIPPED: 1, UNAVAILABLE: 2, FAILED: 3,
             TIMEOUT: 3, ERROR: 4}


def _extra_backends() -> list[str]:
    return [name for name in os.environ.get(BACKENDS_ENV, "").split(",") if name]


def _register_extra_backends() -> None:
    names = _extra_backends()
    new = tuple(name for name in names if name not in _eventloop.BACKENDS)
    if not new:
        return
    # mypy infers anyio's `BACKENDS = "asyncio", "trio"` as `tuple[str, str]` and refuses a
    # longer tuple; setattr says that widening it is the point (B010 would undo that).
    setattr(_eventloop, "BACKENDS", (*_eventloop.BACKENDS, *new))  # noqa: B010
    # anyio's own pytest plugin (an entry point, so usually imported before us)
    # froze `get_available_backends()` into its default `anyio_backend` fixture,
    # which the nested runs of anyio's pytest-plugin tests use. Recompute it; the
    # fixture manager reads the marker only when the session starts.
    plugin = sys.modules.get("anyio.pytest_plugin")
    # pytest's FixtureFunctionDefinition, reached through a private attribute: untyped here.
    definition: Any = getattr(plugin, "anyio_backend", None)
    marker = getattr(definition, "_fixture_function_marker", None)
    if dataclasses.is_dataclass(marker) and not isinstance(marker, type):
        params = tuple(get_available_backends())
        # _ispytest=True: the marker's constructor warns (an error in newer
        # pytest) for callers outside pytest; this is a deliberate private use.
        definition._fixture_function_marker = dataclasses.replace(
            marker, params=params, _ispytest=True
        )


# At import, not in a hook: anyio's conftest reads the list while it is imported.
_register_extra_backends()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "pike conformance harness")
    group.addoption("--conformance-select", default=None, metavar="LABELS",
                    help="comma-separated backend labels to keep ('none' = no backend param)")
    group.addoption("--conformance-out", default=None, metavar="PATH",
                    help="append one JSON line per collected and per finished test")
    group.addoption("--conformance-resume", action="store_true", default=False,
                    help="skip the tests that already have a result in the output file")
    group.addoption("--conformance-poll", action="store_true", default=False,
                    help=f"add a {POLL_LABEL!r} anyio_backend param")


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("conformance_out")
    if out:
        config.pluginmanager.register(Recorder(out), "conformance-recorder")


def _param_value(param: object) -> object:
    values = getattr(param, "values", None)  # a pytest.param(...) ParameterSet
    return values[0] if isinstance(values, tuple) and len(values) == 1 else param


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Add the extra backends, and the poll variant, to the `anyio_backend` params in use.

    The conftest freezes its params when its fixture is defined, so they are
    added to the fixture definition pytest is about to parametrize with. Newer
    conftests build their params from anyio's backend list (which already holds
    the extra backends); older ones (anyio 4.9) list "asyncio" and "trio"
    literally, and get a plain param per extra backend here. The poll variant
    goes only where a plain "pike" param exists.
    """
    extra = _extra_backends()
    poll = metafunc.config.getoption("conformance_poll")
    if not extra and not poll:
        return
    fixturedefs = metafunc._arg2fixturedefs.get("anyio_backend") or ()
    for fixturedef in reversed(fixturedefs):
        params = fixturedef.params
        if params is None:
            continue
        values = [_param_value(p) for p in params]
        names = {value if isinstance(value, str) else value[0] for value in values
                 if isinstance(value, str) or (isinstance(value, tuple) and value)}
        missing = [name for name in extra if name not in names]
        if missing and {"asyncio", "trio"} <= names:
            params = fixturedef.params = (
                *params, *(pytest.param(name, id=name) for name in missing))
            values += missing
            if isinstance(fixturedef.ids, Sequence) and not isinstance(fixturedef.ids, str):
                fixturedef.ids = (*fixturedef.ids, *missing)
        if not poll:
            return
        if "pike" in values and POLL_VALUE not in values:
            # Same marks as the plain param: its "pike is not available" skip, if any.
            marks = getattr(params[values.index("pike")], "marks", ())
            variant = pytest.param(POLL_VALUE, id=POLL_LABEL, marks=marks)
            fixturedef.params = (*params, variant)
            if isinstance(fixturedef.ids, Sequence) and not isinstance(fixturedef.ids, str):
                fixturedef.ids = (*fixturedef.ids, POLL_LABEL)
        return


def backend_label(item: pytest.Item) -> str:
    """The id of the item's `anyio_backend` param ("asyncio+uvloop", "pike", ...), or "none"."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "anyio_backend" not in callspec.params:
        return NO_BACKEND
    value = callspec.params["anyio_backend"]
    name = value if isinstance(value, str) else value[0]
    for part in reversed(callspec.id.split("-")):
        if part == name or part.startswith(f"{name}+"):
            return str(part)
    return str(name)


def normalised_id(nodeid: str, label: str) -> str:
    """The node id without its backend part, the same for every backend."""
    if label == NO_BACKEND or not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid[:-1].partition("[")
    parts = params.split("-")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == label:
            del parts[index]
            break
    return f"{head}[{'-'.join(parts)}]" if parts else head


def _finished_tests(config: pytest.Config) -> set[str]:
    """Node ids with a result in the output file, when resuming after a hang or crash."""
    out = config.getoption("conformance_out")
    if not config.getoption("conformance_resume") or not out or not os.path.exists(out):
        return set()
    done = set()
    with open(out, encoding="utf-8") as file:
        for line in file:
            if '"event": "result"' in line:
                with contextlib.suppress(json.JSONDecodeError):
                    done.add(json.loads(line)["nodeid"])
    return done


def _select(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("conformance_select")
    labels = set(wanted.split(",")) if wanted else None
    done = _finished_tests(config)
    if labels is None and not done:
        return

    def keep(item: pytest.Item) -> bool:
        return (labels is None or backend_label(item) in labels) and item.nodeid not in done

    kept = [item for item in items if keep(item)]
    dropped = [item for item in items if not keep(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept




def _has_ipv6_localhost() -> bool:
    try:
        socket.getaddrinfo("localhost", 0, socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    return True


def _skip_ipv6_without_localhost(items: list[pytest.Item]) -> None:
    """Skip the `ipv6`-parametrized tests where `localhost` has no IPv6 address.

    They bind IPv6 sockets to "localhost", so here they fail on every backend;
    worse, each failed setup leaves an unbound socket in a reference cycle, and
    the ResourceWarning of its collection (an error under anyio's filterwarnings)
    lands on whichever later test triggers the garbage collector, on some backend.
    """
    if _has_ipv6_localhost():
        return
    skip = pytest.mark.skip(reason=NO_IPV6_LOCALHOST)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "ipv6" in callspec.id.split("-"):
            item.add_marker(skip)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("conformance_select"):  # the harness's own runs, not nested ones
        _skip_ipv6_without_localhost(items)
    _select(config, items)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Again after anyio's plugin, which may add per-backend items at this stage.
    _select(session.config, session.items)
    recorder = session.config.pluginmanager.get_plugin("conformance-recorder")
    if isinstance(recorder, Recorder):
        recorder.collected(session.items)


class Recorder:
    """Writes outcomes as JSON lines, one open-append-close per record.

    Nothing is lost when the process is killed, and no file descriptor is held
    open across tests: a backend that closes the wrong fd must not be able to
    silence (or redirect) the recording of its own failures.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._labels: dict[str, str] = {}
        self._reports: dict[str, list[pytest.TestReport]] = {}

    def _write(self, **record: Any) -> None:
        with open(self._path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")

    def collected(self, items: Iterable[pytest.Item]) -> None:
        for item in items:
            label = backend_label(item)
            self._labels[item.nodeid] = label
            self._write(event="collected", nodeid=item.nodeid, backend=label,
                        test=normalised_id(item.nodeid, label))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(event="collect_error", nodeid=report.nodeid,
                        message=_message(report))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._write(event="started", nodeid=nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._reports.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        reports = self._reports.pop(nodeid, [])
        outcome, message = _classify(reports, self._labels.get(nodeid, NO_BACKEND))
        duration = sum(report.duration for report in reports)
        self._write(event="result", nodeid=nodeid, outcome=outcome, message=message,
                    duration=round(duration, 3))

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self._write(event="finished", exitstatus=int(exitstatus))


def _classify(reports: list[pytest.TestReport], label: str) -> tuple[str, str]:
    """Fold the setup/call/teardown reports of one test into its worst outcome."""
    if not reports:
        return ERROR, "pytest reported nothing for this test"
    worst, message = PASSED, ""
    for report in reports:
        outcome, text = _classify_one(report, label)
        if _SEVERITY[worst] >= _SEVERITY[FAILED]:
            break  # the first failure is the story; a teardown error after it is fallout
        if _SEVERITY[outcome] > _SEVERITY[worst] or (outcome != worst and worst == PASSED):
            worst, message = outcome, text
    return worst, message


def _classify_one(report: pytest.TestReport, label: str) -> tuple[str, str]:
    wasxfail = getattr(report, "wasxfail", None)
    if report.passed:
        return (XPASSED, "") if wasxfail is not None else (PASSED, "")
    if report.skipped:
        if wasxfail is not None:
            return XFAILED, str(wasxfail)
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        backend = label.split("+")[0]
        if reason.endswith(f"{backend} is not available"):
            return UNAVAILABLE, reason
        return SKIPPED, reason
    text = _message(report)
    if "from pytest-timeout" in report.longreprtext:
        return TIMEOUT, text
    return (FAILED if report.when == "call" else ERROR), text


_LEAF = re.compile(r"^(?:[a-z_]\w*\.)*[A-Z]\w*: ")  # "pkg.mod.SomeError: message"


def _message(report: pytest.TestReport | pytest.CollectReport, limit: int = 300) -> str:
    """One line that says why a test failed: the exception, and for an exception
    group the first leaf exceptions too (the group's own message says little)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = report.longreprtext
    line = str(getattr(crash, "message", "")).strip().split("\n")[0] or _last_line(text)
    if "sub-exception" in line:
        leaves = [leaf for leaf in (raw.strip(" |+") for raw in text.splitlines())
                  if _LEAF.match(leaf) and "sub-exception" not in leaf]
        line = "; ".join([line, *dict.fromkeys(leaves)][:3])
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return next((line for line in errors if line), lines[-1] if lines else "")
