"""A small CNN (convolution, batch norm, pooling, dropout, augmentation) through every stage and
tool an MLP goes through: train with checkpoints, a bit-identical resume, evaluate's report and
figures, predict on a CSV and on one image, and the original-layout export (MLPs only)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import scratchnn as sn
from pipeline.config import Config, compose, validate
from pipeline.network import checkpoint
from pipeline.stages.evaluate import evaluate
from pipeline.stages.predict import predict_csv, predict_image
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, write_outputs
from tests.conftest import tiny_overrides, write_digits_csv

LAYERS = (
    "model.layers=["
    "{type:conv2d,filters:4,kernel:3,padding:1},{type:batchnorm},{type:relu},"
    "{type:maxpool2d,pool:2},{type:flatten},{type:dropout,rate:0.2},{type:dense,units:10}]"
)
CNN = ["model=cnn", LAYERS, "data.augment.shift=1", "data.augment.rotate=5", "optimizer.lr=0.01"]


class Interrupted(Exception):
    """Stands for a kill right after an epoch's checkpoint was written."""


def cnn_config(folder: Path, csvs: tuple[Path, Path]) -> Config:
    shorthand = [o for o in tiny_overrides(folder, csvs, epochs=4) if "hidden_sizes" not in o]
    return validate(compose([*shorthand, *CNN]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Config:
    folder = tmp_path_factory.mktemp("cnn")
    csvs = folder / "csv" / "train.csv", folder / "csv" / "test.csv"
    write_digits_csv(csvs[0], 300, seed=1)
    write_digits_csv(csvs[1], 100, seed=2)
    cfg = cnn_config(folder, csvs)
    prepare(cfg)
    network, history = train(cfg)
    write_outputs(cfg, network, history)
    return cfg


def assert_resume_is_bit_identical(cfg: Config) -> tuple[sn.Network, list[sn.EpochMetrics]]:
    """Train ``cfg`` (4 epochs) in one go, then again killed after epoch 2 and resumed from its
    checkpoint: the same weights and state, bit for bit, and the same per-layer statistics.
    Returns the network and its history."""
    prepare(cfg)
    reference_rows: list[dict[str, float]] = []
    reference, reference_history = train(cfg, dynamics_rows=reference_rows)

    def stop_after_epoch_2(metrics: sn.EpochMetrics) -> None:
        if metrics.epoch == 2:
            raise Interrupted

    path = checkpoint.checkpoint_path(cfg)
    with pytest.raises(Interrupted):
        train(cfg, on_epoch_end=stop_after_epoch_2, checkpoint_file=path)
    saved = checkpoint.load(path, cfg)
    assert saved is not None and saved.epoch == 2
    rows: list[dict[str, float]] = []
    resumed, history = train(cfg, checkpoint_file=path, resume=saved, dynamics_rows=rows)
    assert [m.epoch for m in history] == [1, 2, 3, 4]
    assert np.array_equal(resumed.params, reference.params)
    assert np.array_equal(resumed.state, reference.state)
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4] and rows == reference_rows
    return reference, reference_history


def test_cnn_checkpoint_resumes_to_bit_identical_weights(tmp_path, small_csvs):
    network, _ = assert_resume_is_bit_identical(cnn_config(tmp_path, small_csvs))
    assert network.state.size > 0  # batch norm's running statistics travel too


def test_cnn_evaluates_and_predicts_the_same_from_the_saved_file(trained, tmp_path):
    metrics, _ = evaluate(trained)
    accuracy = metrics["test"]["accuracy"]
    assert accuracy > 0.3  # 4 epochs on 250 fake digits; chance is 0.1
    reports = Path(trained.paths.reports)
    for png in ("first_layer.png", "activations.png", "confusion.png", "misclassified.png"):
        with Image.open(reports / png) as image:
            assert image.format == "PNG"
    model = sn.load_weights(trained.paths.model)
    assert model.describe()["layers"][0] == {
        "type": "conv2d",
        "filters": 4,
        "kernel": 3,
        "stride": 1,
        "padding": 1,
    }
    summary = predict_csv(trained.data.test_csv, trained.paths.model, tmp_path / "submission.csv")
    assert summary.endswith(f"accuracy {accuracy:.2%}")

    digit = np.load(Path(trained.paths.prepared) / "test_x.npy")[0].reshape(28, 28)
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(tmp_path / "digit.png")
    predicted, lines = predict_image(tmp_path / "digit.png", trained.paths.model)
    assert lines.splitlines()[0] == f"{tmp_path / 'digit.png'}: {predicted}"
    assert predicted == model.predict(digit.reshape(1, 784).astype(np.float32))[0]


def export_original_layout(model: str, folder: Path) -> subprocess.CompletedProcess:
    """``python -m pipeline.tools.original_weights export folder --model model``."""
    command = [sys.executable, "-m", "pipeline.tools.original_weights", "export"]
    return subprocess.run(
        [*command, str(folder), "--model", model], capture_output=True, text=True, check=False
    )


def test_original_layout_export_of_a_cnn_is_refused_naming_the_layer(trained, tmp_path):
    result = export_original_layout(trained.paths.model, tmp_path / "out")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "layers[0] (conv2d)" in line, line
    assert not (tmp_path / "out").exists()
