"""anyio finds the "pike" backend with no import of pike, in every install mode.

These run fresh interpreters: the point is what happens at start-up and on
anyio's first lookup, which an already-warm test process cannot show.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MAIN = textwrap.dedent(
    """
    import sys
    assert not any(m == "pike" or m.startswith(("pike.", "pike_anyio", "anyio"))
                   for m in sys.modules), sorted(sys.modules)
    assert "_pike_anyio_hook" in sys.modules
    import anyio

    async def main(x):
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 0)
        return await anyio.to_thread.run_sync(lambda: x * 2)

    assert anyio.run(main, 21, backend="pike") == 42
    print("ok", sys.modules["_pike_anyio_hook"].__file__)
    """
)


def _python(executable: str | Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_PLUGINS")}
    return subprocess.run(
        [str(executable), "-c", code], capture_output=True, text=True, timeout=120,
        env=env, cwd="/",
    )


def test_fresh_interpreter_runs_pike_without_importing_it() -> None:
    proc = _python(sys.executable, MAIN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def test_startup_imports_nothing_heavy() -> None:
    proc = _python(sys.executable, "import sys; print(' '.join(sorted(sys.modules)))")
    loaded = set(proc.stdout.split())
    assert "_pike_anyio_hook" in loaded
    assert not {"anyio", "pike", "pike_anyio", "sniffio", "outcome"} & loaded


def test_startup_cost_is_one_tiny_module() -> None:
    """Every interpreter start pays for the hook, so at module level it may import
    only ``sys`` (anything else waits until a patched module is asked for).

    Checked on the source, not with a timer: -X importtime figures swing tenfold
    on a loaded machine, so a time bound fails for reasons that are not ours.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("_pike_anyio_hook")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(pathlib.Path(spec.origin).read_text())
    imported = set()
    for node in tree.body:  # module level only; imports inside functions run lazily
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"sys"}


def test_finder_answers_only_for_its_name() -> None:
    code = textwrap.dedent(
        """
        import importlib.util, sys
        finder = next(f for f in sys.meta_path
                      if getattr(f, "__qualname__", "") == "_PikeBackendFinder")
        assert finder.find_spec("anyio._backends._trio") is None
        assert finder.find_spec("pike") is None
        assert finder.find_spec("anyio._backends._pike").name == "anyio._backends._pike"
        print("ok")
        """
    )
    proc = _python(sys.executable, code)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_unsupported_anyio_names_the_supported_range() -> None:
    code = textwrap.dedent(
        """
        import importlib.metadata as md
        real = md.version
        md.version = lambda name: "4.8.0" if name == "anyio" else real(name)
        sys.path.insert(0, SRC)  # this checkout's pike_anyio, found by the installed hook
        import anyio
        async def main(): pass
        try:
            anyio.run(main, backend="pike")
        except RuntimeError as exc:
            print(type(exc).__name__, exc)
        """
    )
    proc = _python(sys.executable, f"import sys; SRC = {str(REPO / 'src')!r}\n" + code)
    assert proc.stdout.startswith("UnsupportedAnyioError"), proc.stderr
    assert "anyio>=4.9,<5" in proc.stdout
    assert "4.8.0" in proc.stdout


def test_pytest_suite_with_anyio_backend_pike(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "pike"
        """
    ))
    (tmp_path / "test_it.py").write_text(textwrap.dedent(
        """
        import contextvars
        import pytest
        import sniffio
        import anyio

        var = contextvars.ContextVar("var")

        @pytest.fixture
        async def value():
            var.set("from fixture")
            yield 5
            await anyio.sleep(0)

        @pytest.mark.anyio
        async def test_runs_on_pike(value):
            assert sniffio.current_async_library() == "pike"
            assert value == 5
            assert var.get() == "from fixture"  # fixture and test share a task
            with anyio.fail_after(1):
                await anyio.sleep(0.01)

        @pytest.fixture
        def func():  # a fixture named like the runner's own parameters
            return "f"

        class TestInClass:
            @pytest.mark.anyio
            async def test_method(self, func):
                assert func == "f"
        """
    ))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_PLUGINS")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


# -- real installs into fresh virtual environments ------------------------------------


def _venv_with(tmp_path: Path, *pip_args: str) -> Path:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pip_args],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        if not _index_reachable(python, tmp_path):
            pytest.skip(f"package index not reachable: {proc.stderr.strip().splitlines()[-1]}")
        raise AssertionError(proc.stderr)  # the index works: the failure is this project's
    return python


def _index_reachable(python: Path, tmp_path: Path) -> bool:
    """Whether pip can fetch anything at all (a tiny, dependency-free package).

    Asked only after an install failed, so that a broken build of this project
    fails the test instead of passing for an unreachable index.
    """
    probe = subprocess.run(
        [str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--no-deps", "--no-cache-dir", "-d", str(tmp_path / "probe"), "sniffio"],
        capture_output=True, text=True, timeout=300,
    )
    return probe.returncode == 0


@pytest.mark.parametrize("editable", [False, True], ids=["regular", "editable"])
def test_install_into_fresh_venv(tmp_path: Path, editable: bool) -> None:
    python = _venv_with(tmp_path, *(["-e"] if editable else []), str(REPO))
    proc = _python(python, MAIN)
    assert proc.returncode == 0, proc.stderr
    # The hook that ran is the venv's own copy, not one from another environment.
    assert str(tmp_path / "venv") in proc.stdout


def test_harmless_without_anyio(tmp_path: Path) -> None:
    python = _venv_with(tmp_path, "--no-deps", str(REPO))
    code = textwrap.dedent(
        """
        import importlib.util, sys
        assert "_pike_anyio_hook" in sys.modules
        assert importlib.util.find_spec("anyio") is None
        try:
            import anyio._backends._pike
        except ModuleNotFoundError as exc:
            print("ok", exc.name)
        """
    )
    proc = _python(python, code)
    assert proc.stdout.strip() == "ok anyio", proc.stderr
