"""Self-tests of the third-party suite runner (`python -m conformance --suite`).

One end-to-end run on a tiny fake sdist (a few seconds: three pytest processes),
plus the known-failures file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conformance.thirdparty import KNOWN, known_failures, main

_TESTS = '''
import pytest
import sniffio

pytestmark = pytest.mark.anyio


async def test_backend_is_forced(anyio_backend_name):
    assert sniffio.current_async_library() == anyio_backend_name


async def test_fails_only_on_pike(anyio_backend_name):
    assert anyio_backend_name != "pike"


async def test_fails_everywhere():
    raise AssertionError("the suite's own failure")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_own_backend_param(anyio_backend):
    pass


def test_sync():
    pass
'''


def _fake_sdist(root: Path) -> Path:
    tree = root / "fakelib-1.0"
    (tree / "tests").mkdir(parents=True)
    (tree / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: fakelib\nVersion: 1.0\n")
    (tree / "tests" / "__init__.py").write_text("")
    (tree / "tests" / "test_fake.py").write_text(textwrap.dedent(_TESTS))
    return tree


def test_pike_only_failures_decide_the_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _fake_sdist(tmp_path)
    code = main(["--suite", str(tree), "--no-install", "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 1, out
    table = {line.split()[0]: line.split()[1:4] for line in out.splitlines()
             if line.split()[:1] in (["pike"], ["trio"], ["asyncio"])}
    # passed/failed/errors: the forced backend, the sync test, and the suite's own failure;
    # the test that parametrizes its own backend runs on asyncio only
    assert table == {"pike": ["2", "2", "0"], "trio": ["3", "1", "0"],
                     "asyncio": ["4", "1", "0"]}, out
    assert "1 failure(s) on pike that do not also fail on trio" in out
    assert "tests/test_fake.py::test_fails_only_on_pike[backend]" in out
    assert "test_fails_everywhere[backend]:" not in out


def test_known_failures_file_parses() -> None:
    known = known_failures("starlette")
    assert known and all(test.startswith("tests/") and cause for test, cause in known.items())
    assert known_failures("no-such-suite", KNOWN) == {}
