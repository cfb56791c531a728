"""Claims of docs/tracking.md, docs/sweeps.md and docs/pipeline.md (Kaggle's CSVs), each run as a
user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from pipeline.config import PROJECT_ROOT, compose, to_yaml
from pipeline.tools import launchers
from pipeline.tools.sweep_job import blas_threads
from tests.conftest import hydra_config, tiny_overrides, write_digits_csv

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def stage(name: str) -> list[str]:
    return [sys.executable, "-m", f"pipeline.stages.{name}"]


def test_tracking_disabled_trains_without_any_store(tmp_path, small_csvs, refused_port):
    """`tracking.enabled=false`: no MLflow at all, not even the unreachable server it names."""
    overrides = [*tiny_overrides(tmp_path, small_csvs), "tracking.enabled=false"]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    env = {**ENV, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{refused_port}"}  # nobody there
    for name in ("prepare", "train", "evaluate"):
        result = run(stage(name), tmp_path, env)
        assert "MLflow" not in result.stderr and "warning" not in result.stderr, result.stderr
    assert json.loads((tmp_path / "reports" / "run.json").read_text()) == {"run_id": None}
    assert (tmp_path / "reports" / "metrics.json").is_file()
    assert not (tmp_path / "mlflow.db").exists()  # nor anywhere: an attempt would fail


def test_data_kaggle_end_to_end(tmp_path):
    """`data=kaggle`: data/kaggle/train.csv and an unlabelled test.csv, through every stage:
    the report is on the held-out rows and predict writes the submission."""
    write_digits_csv(tmp_path / "data" / "kaggle" / "train.csv", 1200, layout="kaggle", seed=1)
    write_digits_csv(
        tmp_path / "data" / "kaggle" / "test.csv", 30, layout="kaggle", labelled=False, seed=2
    )
    overrides = [
        "data=kaggle",
        "train.epochs=2",
        "model.hidden_sizes=[16]",
        "tracking.enabled=false",
        f"paths.prepared={tmp_path / 'prepared'}",
        f"paths.model={tmp_path / 'models' / 'model.npz'}",
        f"paths.reports={tmp_path / 'reports'}",
    ]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    for name in ("prepare", "train", "evaluate", "predict"):
        run(stage(name), tmp_path, ENV)
    info = json.loads((tmp_path / "prepared" / "info.json").read_text())
    assert info["rows"] == {"train": 200, "val": 1000, "test": 30} and not info["test_labelled"]
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "validation"
    submission = pd.read_csv(tmp_path / "reports" / "submission.csv")
    assert list(submission.columns) == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, 31))
    assert submission["Label"].between(0, 9).all()


def sweep(tmp_path: Path, csvs, uri: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pipeline.tools.sweep",
        "-m",
        *tiny_overrides(tmp_path, csvs, epochs=2, experiment="claims"),
        *overrides,
    ]
    return run(command, PROJECT_ROOT, {**ENV, "MLFLOW_TRACKING_URI": uri})


def test_optuna_and_submitit_sweeps_then_compare_all_sorted(tmp_path, small_csvs):
    """`hparams_search=optuna` (its trials as runs) and `hydra/launcher=submitit_local`; then
    `compare --all --sort test_accuracy` lists every run of the experiment, best first."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep(
        tmp_path,
        small_csvs,
        uri,
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={tmp_path / 'optuna'}",
    )
    sweep(
        tmp_path,
        small_csvs,
        uri,
        "optimizer.lr=0.01,0.05",
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path / 'submitit'}",
    )
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("claims").experiment_id])
    jobs = [r for r in runs if "sweep.parent" not in r.data.tags]
    assert len(jobs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    optuna = [r for r in jobs if r.data.tags["sweep.dir"] == str(tmp_path / "optuna")]
    assert len(optuna) == 2
    assert {r.data.tags["sweep.params"] for r in optuna} == {"optimizer.lr,train.batch_size"}
    assert (
        len({(r.data.params["optimizer.lr"], r.data.params["train.batch_size"]) for r in optuna})
        == 2
    )

    png = tmp_path / "all.png"
    command = [sys.executable, "-m", "pipeline.tools.compare", "--experiment", "claims", "--all"]
    command += ["--sort", "test_accuracy", "--png", str(png)]
    out = run(command, tmp_path, {**ENV, "MLFLOW_TRACKING_URI": uri}).stdout.splitlines()
    assert out[0].startswith("4 runs of experiment claims")  # the parent runs are left out
    assert "best test_accuracy first" in out[0]
    header = out[1].split()
    rows = [line.split() for line in out[2:6]]
    accuracies = [float(row[header.index("test_accuracy")]) for row in rows if row[1] != "-"]
    assert len(accuracies) == 4 and accuracies == sorted(accuracies, reverse=True)
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("launcher", "cores", "threads"),
    [
        ({"_target_": launchers.JOBLIB, "n_jobs": 2}, 2, 1),
        ({"_target_": launchers.JOBLIB, "n_jobs": 2}, 8, 4),
        ({"_target_": launchers.JOBLIB, "n_jobs": -1}, 8, 1),
        ({"_target_": launchers.SUBMITIT_LOCAL}, 8, 1),
        ({"_target_": launchers.SUBMITIT_SLURM, "cpus_per_task": 4}, 8, 4),
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 8, None),
    ],
)
def test_parallel_jobs_split_the_cores_for_blas(monkeypatch, launcher, cores, threads):
    """docs/sweeps.md: with joblib each job gets cores / n_jobs BLAS threads; with submitit
    hydra.launcher.cpus_per_task (default 1); the basic launcher leaves BLAS alone."""
    from omegaconf import OmegaConf

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert blas_threads(OmegaConf.create(launcher)) == threads


def blas_threads_inside_a_job(monkeypatch, tmp_path, *overrides: str) -> set[int]:
    """The BLAS thread counts a sweep job of ``overrides`` trains with: ``job`` as Hydra calls
    it in each job's process, with its training replaced by a look at threadpoolctl."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict
    from threadpoolctl import threadpool_info

    from pipeline.tools import sweep_job

    seen: set[int] = set()

    def look(*_):
        seen.update(info["num_threads"] for info in threadpool_info())
        return 1.0

    monkeypatch.setattr(sweep_job, "run_job", look)
    raw = hydra_config(*overrides)
    with open_dict(raw):  # what Hydra fills in for a job it launches
        raw.hydra.job.num = 0
        raw.hydra.runtime.output_dir = str(tmp_path)
    HydraConfig.instance().set_config(raw)
    with open_dict(raw):
        del raw["hydra"]
    sweep_job.job(raw)
    return seen


@pytest.mark.parametrize(
    ("overrides", "threads"),
    [
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 4),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=8"], 1),
        (["hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=3"], 3),
        ([], 2),  # the basic launcher: the threads the process had
    ],
)
def test_a_sweep_job_trains_with_its_share_of_blas_threads(
    monkeypatch, tmp_path, overrides, threads
):
    from threadpoolctl import threadpool_limits

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    with threadpool_limits(limits=2):
        assert blas_threads_inside_a_job(monkeypatch, tmp_path, *overrides) == {threads}
