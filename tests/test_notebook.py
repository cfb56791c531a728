"""notebooks/tour.ipynb runs top to bottom in a real kernel, on generated data and two tiny real
runs of the pipeline (what a fresh clone's test run has: no data/prepared, no mlflow.db), and
its jupytext pair notebooks/tour.py holds the same cells."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from pipeline.config import PROJECT_ROOT
from tests.conftest import tiny_overrides

NOTEBOOK = PROJECT_ROOT / "notebooks" / "tour.ipynb"
SCRIPT = PROJECT_ROOT / "notebooks" / "tour.py"


def cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]


def test_the_notebook_and_its_script_hold_the_same_cells():
    """`jupytext --sync notebooks/tour.py` after an edit of either; the .ipynb keeps no outputs,
    so its diff is the script's."""
    assert cells(NOTEBOOK) == cells(SCRIPT)
    assert len(cells(SCRIPT)) > 10
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not [cell for cell in notebook.cells if cell.get("outputs")]


@pytest.fixture
def tour(tmp_path: Path, small_csvs) -> Path:
    """A folder laid out like the project after `make run` and one experiment: data/prepared
    and mlflow.db holding two runs of the pipeline (a sweep over two learning rates)."""
    folder = tmp_path / "tour"
    command = [
        sys.executable,
        "-m",
        "pipeline.tools.sweep",
        "-m",
        "optimizer.lr=0.005,0.01",
        *tiny_overrides(tmp_path / "work", small_csvs, epochs=2),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    folder.mkdir()
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.copytree(tmp_path / "sweep" / "0" / "prepared", folder / "data" / "prepared")
    return folder


def test_the_tour_runs_top_to_bottom(tour, monkeypatch):
    monkeypatch.setenv("NEURALSCRATCH_TOUR", str(tour))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # a cell that raises fails here (CellExecutionError, with the cell and its traceback)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    printed = "\n".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert f"prepared data: {tour / 'data' / 'prepared'}" in printed
    assert "epoch 3: loss" in printed
    assert printed.count(" numeric ") == 10  # the gradient check's lines, all within 1e-4
    assert "what differs: [{'params.optimizer.lr': '0.01'}, {'params.optimizer.lr': '0.005'}]" in (
        printed
    )
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 4  # the digits, the first layer, one image's activations, the curves


def locked(path: Path) -> dict[str, str]:
    """``name: version`` of every entry of a pip-compile lock; each must carry its hashes."""
    entries = re.split(r"\n(?=[a-z0-9])", path.read_text())
    pins = {}
    for entry in entries:
        if match := re.match(r"([a-z0-9._-]+)==([\w.]+) \\\n", entry):
            assert "--hash=sha256:" in entry, match.group(1)
            pins[match.group(1)] = match.group(2)
    return pins


def test_jupyterlab_is_locked_apart_from_what_make_run_installs():
    """requirements.lock (`make run`, `make test`) has what the test needs to run the notebook,
    not JupyterLab; requirements-notebook.lock (`make notebook`) has only what JupyterLab adds."""
    environment = locked(PROJECT_ROOT / "requirements.lock")
    notebook = locked(PROJECT_ROOT / "requirements-notebook.lock")
    assert {"nbclient", "ipykernel", "jupytext"} <= set(environment)
    assert "jupyterlab" in notebook and "jupyterlab" not in environment
    assert not set(notebook) & set(environment)
