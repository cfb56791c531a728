"""docs/pipeline.md, "The original weights": where `python -m pipeline.tools.original_weights`
writes, the two error lines it shows, and `export` with and without `--model`."""

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

import scratchnn as sn
from pipeline.config import PROJECT_ROOT, compose, to_yaml, validate
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, write_outputs
from pipeline.tools import original_weights
from scratchnn.errors import WeightsError
from tests.conftest import write_digits_csv
from tests.guides import page

PIPELINE = page("pipeline.md")
SEED_WEIGHTS = PROJECT_ROOT / "examples" / "original_weights"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder as after `make run`, on small CSVs with paths relative to it: params.yaml, the
    prepared data, a trained model and the pipeline's reports."""
    folder = tmp_path_factory.mktemp("project")
    write_digits_csv(folder / "csv" / "train.csv", 300, seed=1)
    write_digits_csv(folder / "csv" / "test.csv", 100, seed=2)
    overrides = [
        "data.train_csv=csv/train.csv",
        "data.test_csv=csv/test.csv",
        "data.val_size=50",
        "train.epochs=2",
        "model.hidden_sizes=[16]",
        "tracking.enabled=false",
    ]
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    with contextlib.chdir(folder):
        cfg = validate(compose(overrides))
        prepare(cfg)
        write_outputs(cfg, *train(cfg))
        evaluate(cfg)
    return folder


def main(folder: Path, *argv: str) -> str:
    printed = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(printed):
        original_weights.main(list(argv))
    return printed.getvalue()


def test_reports_go_to_outputs_original_by_default(project):
    """docs/pipeline.md: "The report files (and four figures; weights trained elsewhere have no
    training curves) go to `outputs/original/` ..., so the pipeline's `reports/` stay as they
    are"."""
    before = {p.name: p.read_bytes() for p in (project / "reports").iterdir()}
    out = main(project, "evaluate", str(SEED_WEIGHTS))
    assert "\nreports -> outputs/original\n" in out
    assert out.rstrip().splitlines()[-1].startswith(
        "test accuracy: these weights "
    ) and out.rstrip().endswith("%")
    assert "the pipeline's model (models/model.npz)" in out
    written = {p.name for p in (project / "outputs" / "original").iterdir()}
    figures = {name for name in written if name.endswith(".png")}
    assert figures == {"confusion.png", "misclassified.png", "first_layer.png", "activations.png"}
    assert {"report.md", "metrics.json", "classes.csv", "predictions.csv"} <= written
    assert {p.name: p.read_bytes() for p in (project / "reports").iterdir()} == before


def test_the_readmes_two_error_lines(tmp_path):
    (tmp_path / "params.yaml").write_text(to_yaml(compose()))
    folder = tmp_path / "my_weights"
    shutil.copytree(SEED_WEIGHTS, folder)
    (folder / "README.md").unlink()
    np.save(folder / "layer1_weights.npy", np.load(folder / "layer1_weights.npy").T)
    for broken in ("transposed", "missing"):
        with pytest.raises(WeightsError) as refused:  # run_stage prints it as `error: ...`
            main(tmp_path, "evaluate", "my_weights")
        line = f"error: {refused.value}"
        assert f"\n{line}\n" in PIPELINE, line
        assert not (tmp_path / "outputs").exists()
        if broken == "transposed":
            np.save(folder / "layer1_weights.npy", np.load(SEED_WEIGHTS / "layer1_weights.npy"))
            (folder / "layer2_biases.npy").unlink()


def test_export_takes_params_yamls_model_unless_told(project, tmp_path):
    out = main(project, "export", str(tmp_path / "exported"))
    assert out.startswith(f"export: models/model.npz -> {tmp_path / 'exported'}: ")
    model = sn.load_weights(project / "models" / "model.npz")
    np.testing.assert_array_equal(sn.load_weights(tmp_path / "exported").params, model.params)

    other = sn.mlp([784, 8, 10], rng=np.random.default_rng(3))
    sn.save_weights(other, tmp_path / "other.npz")
    out = main(project, "export", str(tmp_path / "mine"), "--model", str(tmp_path / "other.npz"))
    assert out.startswith(f"export: {tmp_path / 'other.npz'} -> {tmp_path / 'mine'}: ")
    assert "layer1_weights.npy (784, 8) float32" in out
    np.testing.assert_array_equal(sn.load_weights(tmp_path / "mine").params, other.params)
