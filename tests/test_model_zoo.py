"""The model zoo, ``examples/models/``: each file is a recipe's trained weights, and docs/models.md
lists each with what ``make bench-recipes`` measured when it made it (``reports/recipes.json``).
Here each file is loaded and scored through ``predict`` on the official 10,000 test images
(inference only): it must print the accuracy its row states, to the image.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import scratchnn as sn
from pipeline.config import PROJECT_ROOT
from tests.guides import page, table

pytestmark = pytest.mark.slow

ZOO = PROJECT_ROOT / "examples" / "models"
MAX_BYTES = 2_500_000  # docs/models.md: "0.7 to 2.5 MB"
COLUMNS = ["file", "recipe", "network", "parameters", "test accuracy", "epochs", "training"]
FILE = re.compile(r"`examples/models/(\w+)\.npz`")


def zoo_rows() -> dict[str, dict[str, str]]:
    """docs/models.md's table, by the file's stem: the cells under their column names."""
    names, rows = table(page("models.md"))
    assert names == COLUMNS, names
    by_stem = {}
    for row in rows:
        match = FILE.fullmatch(row["file"])
        assert match, f"a row that names no file of examples/models/: {row}"
        by_stem[match.group(1)] = row
    return by_stem


ROWS = zoo_rows()
MEASURED = json.loads((PROJECT_ROOT / "reports" / "recipes.json").read_text())


def test_every_file_of_the_zoo_has_a_row_and_every_row_a_file():
    assert ROWS, "docs/models.md lists no model"
    assert {path.stem for path in ZOO.glob("*.npz")} == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_row_states_what_bench_recipes_measured_and_the_files_own_size(name):
    row, measured = ROWS[name], MEASURED[name]
    assert row["recipe"] == f"`experiment={name}`"
    assert row["test accuracy"] == f"{measured['test_accuracy'] * 100:.2f} %"
    assert row["epochs"] == str(measured["epochs"])
    assert row["training"] == f"{measured['training_seconds'] / 60:.1f} min"
    network = sn.load_weights(ZOO / f"{name}.npz")
    assert row["parameters"] == f"{network.parameter_count:,}"
    assert (ZOO / f"{name}.npz").stat().st_size <= MAX_BYTES


@pytest.mark.parametrize("name", sorted(ROWS))
def test_predict_scores_each_model_as_its_row_states(name, mnist_csvs, tmp_path):
    output = tmp_path / "submission.csv"
    model = f"examples/models/{name}.npz"
    command = [sys.executable, "-m", "pipeline.stages.predict", "--csv", str(mnist_csvs[1])]
    command += ["--model", model, "--output", str(output), "--dataset", "mnist"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    stated = ROWS[name]["test accuracy"].replace(" %", "%")
    assert result.stdout.endswith(f"the CSV has labels: accuracy {stated}\n"), result.stdout


def test_the_python_on_the_page_runs(monkeypatch):
    """docs/models.md, *Using one*: the block runs as written (the prepared test split replaced
    by a few random images, since this test needs no `make run`)."""
    (block,) = re.findall(r"```python\n(.*?)```", page("models.md"), flags=re.S)
    images = np.random.default_rng(0).random((8, 784), dtype=np.float32)

    def load_split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
        assert (folder, split) == ("data/prepared", "test")
        return images, np.arange(8) % 10

    monkeypatch.setattr("pipeline.data.artifacts.load_split", load_split)
    monkeypatch.chdir(PROJECT_ROOT)
    namespace: dict = {}
    exec(compile(block, "docs/models.md", "exec"), namespace)
    assert namespace["network"].describe()["layers"][0]["type"] == "lstm"
    assert len(namespace["predicted"]) == 8 and 0 <= namespace["accuracy"] <= 1
