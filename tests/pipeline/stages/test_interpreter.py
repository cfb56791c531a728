"""A stage started by another Python than the project's environment says so in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from tests.test_stage_deps import stage_module, stages


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A Python with none of the project's packages: a fresh venv of the same interpreter."""
    folder = tmp_path_factory.mktemp("bare")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True)
    return str(folder / "bin" / "python")


def run_bare(python: str, module: str, cwd: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``python -m module`` in ``cwd``, the project importable but none of its packages."""
    return subprocess.run(
        [python, "-m", module, *arguments],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(stages()))
def test_a_stage_under_another_python_names_it_and_the_fix(tmp_path, bare_python, name):
    result = run_bare(bare_python, stage_module(stages()[name]), tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: this stage runs under {bare_python} (Python 3.")
    assert "lacks the project's packages (numpy, pandas" in result.stderr
    assert "`source .venv/bin/activate`" in result.stderr and "`make run`" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def entry_points() -> list[str]:
    """Every ``python -m`` module of the tools and the cluster (a ``__main__`` guard, or a
    package's ``__main__.py``)."""
    found = []
    tools, cluster = PROJECT_ROOT / "pipeline" / "tools", PROJECT_ROOT / "pipeline" / "cluster"
    for path in sorted([*tools.glob("**/*.py"), *cluster.glob("*.py")]):
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        if path.name == "__main__.py":
            found.append(module.removesuffix(".__main__"))
        elif 'if __name__ == "__main__":' in path.read_text():
            found.append(module)
    return found


def test_every_tool_is_found():
    assert {"pipeline.tools.compare", "pipeline.tools.sweep", "pipeline.cluster"} <= set(
        entry_points()
    )


@pytest.mark.parametrize("module", entry_points())
def test_a_tool_under_another_python_names_it_and_the_fix(tmp_path, bare_python, module):
    """compare ended in ``ModuleNotFoundError: No module named 'pandas'``, sweep in hydra's."""
    result = run_bare(bare_python, module, tmp_path, "--help")
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "lacks the project's packages (numpy, pandas" in result.stderr
    assert "`source .venv/bin/activate`" in result.stderr
    assert list(tmp_path.iterdir()) == []
