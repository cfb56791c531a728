"""The gradient check tool on small generated CSVs: it passes for the MLP and the CNN, fails
naming the layer whose backward pass is broken, and says what is missing without images."""

import numpy as np
import pytest

import scratchnn as sn
from pipeline.errors import PipelineError
from pipeline.tools import gradcheck
from tests.conftest import tiny_overrides

FAST = ["--images", "2", "--samples", "4"]


def run_tool(monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr("sys.argv", ["gradcheck", *args])
    gradcheck.main()
    return capsys.readouterr().out


@pytest.mark.parametrize("recipe", ["model=mlp", "experiment=cnn"])
def test_passes_on_a_correct_network(recipe, small_csvs, tmp_path, monkeypatch, capsys):
    overrides = tiny_overrides(tmp_path, small_csvs) if recipe == "model=mlp" else []
    overrides = [o for o in overrides if "hidden_sizes" not in o] + [recipe]
    csv = [f"data.train_csv={small_csvs[0]}", f"paths.prepared={tmp_path / 'none'}"]
    out = run_tool(monkeypatch, capsys, *overrides, *csv, *FAST)
    assert "passed: the largest relative error" in out
    assert "0_dense" in out if recipe == "model=mlp" else "3_conv2d" in out
    assert "network                      input" in out


def test_a_broken_backward_fails_naming_its_layer(small_csvs, tmp_path, monkeypatch, capsys):
    relu_backward = sn.ReLU.backward

    def broken(self, dy: np.ndarray) -> np.ndarray:
        return relu_backward(self, dy) * 1.01  # a gradient one percent too large

    monkeypatch.setattr(sn.ReLU, "backward", broken)
    csv = [f"data.train_csv={small_csvs[0]}", f"paths.prepared={tmp_path / 'none'}"]
    with pytest.raises(gradcheck.GradientCheckFailed, match=r"in: 1_relu, 3_relu$"):
        run_tool(monkeypatch, capsys, "model.hidden_sizes=[8,8]", *csv, *FAST)
    assert "FAIL" in capsys.readouterr().out


def test_without_images_it_says_where_it_looked(tmp_path, monkeypatch, capsys):
    missing = [f"data.train_csv={tmp_path / 'no.csv'}", f"paths.prepared={tmp_path / 'none'}"]
    with pytest.raises(PipelineError, match=r"no images to check on: neither .*none.*no\.csv"):
        run_tool(monkeypatch, capsys, *missing)
