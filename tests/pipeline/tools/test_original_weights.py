"""python -m pipeline.tools.original_weights: evaluate and export the original per-layer layout."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import PipelineError, compose, to_yaml
from pipeline.data.artifacts import load_split
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, write_outputs
from pipeline.tools import original_weights
from tests.conftest import tiny_overrides, write_digits_csv
from tests.pipeline.stages.test_predict import run_module
from tests.pipeline.stages.test_stages import tiny_config
from tests.scratchnn.test_original_layout import SEED_WEIGHTS, original_forward


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """A trained tiny model on generated CSVs, and its params.yaml, in a temp folder."""
    tmp = tmp_path_factory.mktemp("original")
    train_csv, test_csv = tmp / "train.csv", tmp / "test.csv"
    write_digits_csv(train_csv, 300, seed=1)
    write_digits_csv(test_csv, 100, seed=2)
    cfg = tiny_config(tmp, train_csv, test_csv)
    prepare(cfg)
    write_outputs(cfg, *train(cfg))
    (tmp / "params.yaml").write_text(to_yaml(compose(tiny_overrides(tmp, (train_csv, test_csv)))))
    return {"cfg": cfg, "tmp": tmp}


def run_command(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return run_module("pipeline.tools.original_weights", *args, cwd=tmp)


def test_export_then_evaluate_gives_the_same_report(project, tmp_path):
    cfg = project["cfg"]
    lines = original_weights.export(cfg.paths.model, tmp_path / "layers")
    assert lines[0] == "layer1_weights.npy (784, 16) float32"
    assert sorted(p.name for p in (tmp_path / "layers").iterdir()) == [
        f"layer{i}_{part}.npy" for i in (1, 2) for part in ("biases", "weights")
    ]
    metrics, report = evaluate(cfg)
    again, again_report = original_weights.evaluate_folder(cfg, tmp_path / "layers", tmp_path / "r")
    assert again == metrics
    # the same report, but for the figures: weights from elsewhere come with no training curves
    assert again_report.split("Figures:")[0] == report.split("Figures:")[0]
    assert "training_curves.png" in report and "training_curves.png" not in again_report
    predictions = (Path(cfg.paths.reports) / "predictions.csv").read_bytes()
    assert (tmp_path / "r" / "predictions.csv").read_bytes() == predictions
    assert (tmp_path / "r" / "confusion.png").is_file()
    assert not (tmp_path / "r" / "training_curves.png").exists()  # no history for these weights


def test_seed_weights_run_in_float64_through_evaluate(project, tmp_path):
    cfg = project["cfg"]
    metrics, report = original_weights.evaluate_folder(cfg, SEED_WEIGHTS, tmp_path / "r")
    x, y = load_split(cfg.paths.prepared, "test")
    # the original's forward pass on the same float32-prepared pixels, written out by hand
    expected = np.argmax(original_forward(SEED_WEIGHTS, x.astype(np.float64)), axis=1)
    assert metrics["test"]["accuracy"] == np.mean(expected == y)
    assert f"accuracy **{np.mean(expected == y):.2%}**" in report
    predicted = np.loadtxt(tmp_path / "r" / "predictions.csv", delimiter=",", skiprows=1)[:, 1]
    np.testing.assert_array_equal(predicted, expected)


def test_command_prints_the_report_and_compares(project, tmp_path):
    tmp = project["tmp"]
    evaluate(project["cfg"])  # the pipeline's own metrics, to compare with
    original_weights.export(project["cfg"].paths.model, tmp_path / "layers")
    result = run_command(
        tmp, "evaluate", str(tmp_path / "layers"), "--reports", str(tmp_path / "r")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Evaluation on the test split\n")
    assert f"reports -> {tmp_path / 'r'}" in result.stdout
    assert "test accuracy: these weights" in result.stdout
    assert (tmp_path / "r" / "report.md").read_text() in result.stdout


def test_bad_layout_names_the_layer_and_exits_1(project, tmp_path):
    original_weights.export(project["cfg"].paths.model, tmp_path / "layers")
    w = np.load(tmp_path / "layers" / "layer1_weights.npy")
    np.save(tmp_path / "layers" / "layer1_weights.npy", w.T)
    result = run_command(project["tmp"], "evaluate", str(tmp_path / "layers"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "layer1_weights.npy has shape (16, 784), expected (784, *)" in result.stderr
    assert not (project["tmp"] / "outputs").exists()


def test_export_refuses_a_folder_with_other_files(project, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(PipelineError, match=r"holds other files \(notes\.txt\)"):
        original_weights.export(project["cfg"].paths.model, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    result = run_command(project["tmp"], "export", str(tmp_path / "out"))  # params paths.model
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "layer2_biases.npy").is_file()
