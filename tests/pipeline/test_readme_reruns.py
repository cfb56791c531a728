"""docs/configuration.md, "The default recipe" and "Reports": the stages as `dvc repro` runs them
(their ``main``, reading params.yaml), twice from scratch on small generated CSVs."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from pipeline.config import compose, to_yaml
from pipeline.stages import evaluate, prepare, train
from tests.conftest import tiny_overrides, write_digits_csv

FIGURES = [
    "confusion.png",
    "misclassified.png",
    "training_curves.png",
    "first_layer.png",
    "activations.png",
    "dynamics.png",
]


def from_scratch(folder: Path, csvs: tuple[Path, Path]) -> str:
    """prepare -> train -> evaluate in ``folder``; what they printed."""
    folder.mkdir()
    overrides = [*tiny_overrides(folder, csvs, epochs=3), "tracking.enabled=false"]
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    printed = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(printed):
        for stage in (prepare, train, evaluate):
            stage.main()
    return printed.getvalue()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[tuple[Path, str], tuple[Path, str]]:
    """Two runs from scratch in two folders: (folder, what it printed) each."""
    folder = tmp_path_factory.mktemp("reruns")
    csvs = folder / "train.csv", folder / "test.csv"
    write_digits_csv(csvs[0], 300, seed=1)
    write_digits_csv(csvs[1], 100, seed=2)
    return (folder / "a", from_scratch(folder / "a", csvs)), (
        folder / "b",
        from_scratch(folder / "b", csvs),
    )


def test_two_runs_of_the_stages_write_the_same_files_but_run_json(two_runs):
    """docs/configuration.md: "Two runs from scratch print the same losses to the last digit and
    write the same model, history and metrics (only `reports/run.json`, the MLflow run's id,
    differs)"; the history leaves out wall-clock time, so it is byte-identical."""
    (a, first), (b, second) = two_runs

    def epochs(out: str) -> list[str]:  # the epoch lines without their seconds
        return [re.sub(r"\s+[\d.]+s$", "", line) for line in out.splitlines() if "epoch" in line]

    assert len(epochs(first)) == 3 and epochs(first) == epochs(second)
    for name in (
        "models/model.npz",
        "reports/history.csv",
        "reports/metrics.json",
        "reports/dynamics.csv",
    ):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert "seconds" not in (a / "reports" / "history.csv").read_text()


def test_evaluate_prints_its_report_and_writes_every_file_of_the_table(two_runs):
    """The table of "Reports": report.md (printed), classes.csv, metrics.json, the six
    figures, and the report's links to them."""
    (folder, out), _ = two_runs
    reports = folder / "reports"
    report = (reports / "report.md").read_text()
    assert report.startswith("# Evaluation on the test split\n") and out.endswith(report)
    assert re.search(r"accuracy \*\*[\d.]+%\*\* \(\d+ of 100 images\), loss [\d.]+", report)
    assert "| digit | precision | recall | F1 | support |" in report
    assert "confusion matrix" in report.lower()
    for figure in FIGURES:
        assert f"({figure})" in report, figure  # a markdown link beside report.md
        with Image.open(reports / figure) as image:
            assert image.format == "PNG"
    classes = (reports / "classes.csv").read_text().splitlines()
    assert classes[0] == "class,precision,recall,f1,support" and len(classes) == 11
    metrics = json.loads((reports / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"accuracy", "loss"} and set(metrics["val"]) >= {
        "accuracy",
        "loss",
    }
    assert metrics["test"]["n"] == 100 and metrics["val"]["n"] == 50
