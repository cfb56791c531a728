"""A stage started by another Python than the project's environment says so in one line."""

import os
import subprocess
import sys

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


@pytest.mark.parametrize("name", sorted(stages()))
def test_a_stage_under_another_python_names_it_and_the_fix(tmp_path, bare_python, name):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [bare_python, "-m", stage_module(stages()[name])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: this stage runs under {bare_python} (Python 3.")
    assert "lacks the project's packages (numpy, pandas" in result.stderr
    assert "`source .venv/bin/activate`" in result.stderr and "`make run`" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
