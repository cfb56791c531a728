"""``make bench-recipes``'s own logic; the benchmark itself trains for minutes (see
``tests/test_readme_numbers.py`` for the figures it wrote)."""

import argparse
import json
import zipfile

import numpy as np
import pytest

import scratchnn as sn
from pipeline.errors import PipelineError
from pipeline.tools.bench_recipes import (
    earlier_rows,
    job_metrics,
    keep_model,
    parse_args,
    recipe_command,
    recipe_names,
    report_line,
)


def test_recipes_are_files_of_conf_experiment():
    assert parse_args(["--recipes", "cnn,mlp_best"]).recipes == ["cnn", "mlp_best"]
    assert parse_args([]).recipes == [
        *("mlp_best", "cnn", "cnn_augmented"),
        *("fashion", "fashion_mlp", "fashion_cnn"),
    ]
    with pytest.raises(argparse.ArgumentTypeError, match=r"conf/experiment/nope.yaml"):
        recipe_names("cnn,nope")


def test_overrides_follow_the_recipe_and_the_sweep_folder_comes_last(tmp_path):
    args = parse_args(["--recipes", "cnn", "train.epochs=1"])
    command = recipe_command(args.recipes[0], args.overrides, tmp_path)
    assert command[1:] == [
        "-m", "pipeline.tools.sweep", "-m", "experiment=cnn", "train.epochs=1",
        f"hydra.sweep.dir={tmp_path}",
    ]  # fmt: skip


def test_the_one_jobs_metrics_are_read_and_reported(tmp_path):
    reports = tmp_path / "0" / "reports"
    reports.mkdir(parents=True)
    (reports / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.9934, "n": 10000}}))
    assert job_metrics(tmp_path)["test"]["accuracy"] == 0.9934
    result = {
        "test_accuracy": 0.9934, "epochs": 15, "median_epoch_seconds": 18.6,
        "training_seconds": 279.0, "peak_memory_gb": 0.61, "wall_seconds": 300.0,
    }  # fmt: skip
    line = report_line("cnn", result)
    assert "99.34%" in line and "15 epochs of 18.6 s (4.7 min)" in line and "0.61 GB" in line


def test_a_recipes_weights_are_kept_under_its_name_whole_or_not_at_all(tmp_path):
    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    network = sn.mlp([784, 16, 10], rng=np.random.default_rng(0))
    sn.save_weights(network, job / "model.npz")
    zoo = tmp_path / "examples" / "models"
    keep_model(tmp_path / "sweep", zoo / "resnet.npz")
    with np.load(job / "model.npz") as trained, np.load(zoo / "resnet.npz") as kept:
        assert set(kept.files) == set(trained.files)
        for name in trained.files:
            assert np.array_equal(kept[name], trained[name])
            assert kept[name].dtype == trained[name].dtype
    with zipfile.ZipFile(zoo / "resnet.npz") as archive:  # compressed: the zoo lives in git
        assert {m.compress_type for m in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert sn.load_weights(zoo / "resnet.npz").layer_sizes == [784, 16, 10]
    assert [path.name for path in zoo.iterdir()] == ["resnet.npz"]  # no partial file left
    assert parse_args(["--models", str(zoo)]).models == zoo
    assert parse_args([]).models is None  # by default nothing is kept


def test_a_run_of_some_recipes_keeps_the_other_rows_of_the_report(tmp_path):
    report = tmp_path / "recipes.json"
    assert earlier_rows(report) == {}
    row = {"test_accuracy": 0.9934, "epochs": 15}
    report.write_text(json.dumps({"load_average_before": 0.3, "cnn": row}))
    assert earlier_rows(report) == {"cnn": row}  # the rows; the run's own figures are new
    report.write_text("{not json")
    with pytest.raises(PipelineError, match=r"recipes\.json: not JSON"):
        earlier_rows(report)
