"""train.diagnostics on small generated CSVs: train's dynamics.csv and evaluate's dynamics.png,
with the statistics on and off, and the weights the same either way."""

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.config import compose, validate
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train_tracked
from tests.conftest import tiny_overrides


def trained(tmp_path, small_csvs, *extra: str):
    cfg = validate(compose([*tiny_overrides(tmp_path, small_csvs, epochs=2), *extra]))
    prepare(cfg)
    train_tracked(cfg, None, echo=False)
    evaluate(cfg)
    reports = tmp_path / "reports"
    return pd.read_csv(reports / "dynamics.csv"), Image.open(reports / "dynamics.png")


def test_per_layer_statistics_go_to_a_table_and_a_figure(tmp_path, small_csvs):
    table, figure = trained(tmp_path / "on", small_csvs)
    assert list(table.columns) == ["epoch", "layer", "statistic", "value"]
    assert sorted(set(table["epoch"])) == [1, 2]
    statistics = set(zip(table["layer"], table["statistic"], strict=True))
    assert {("0_dense", "update_ratio"), ("0_dense", "grad_norm"), ("0_dense", "weight_norm")} <= (
        statistics
    )
    assert {("1_relu", "dead_fraction"), ("1_relu", "mean"), ("2_dense", "std")} <= statistics
    ratio = table[(table["layer"] == "0_dense") & (table["statistic"] == "update_ratio")]["value"]
    assert ((ratio > 1e-6) & (ratio < 1)).all()
    assert figure.size[0] >= 1000 and figure.size[1] >= 600  # three panels by two rows at least


def test_without_diagnostics_the_table_is_empty_and_the_weights_the_same(tmp_path, small_csvs):
    table, figure = trained(tmp_path / "off", small_csvs, "train.diagnostics=false")
    assert table.empty and figure.size[1] < 300  # a note, not panels
    trained(tmp_path / "on", small_csvs)
    weights = [np.load(tmp_path / run / "models" / "model.npz") for run in ("on", "off")]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
