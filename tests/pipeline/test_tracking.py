"""MLflow tracking against real stores: a temp SQLite store, and a real `mlflow server`."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

import scratchnn as sn
from pipeline.config import PROJECT_ROOT, compose, to_yaml, validate
from pipeline.data.artifacts import load_split
from pipeline.stages.prepare import prepare
from pipeline.tools import bench_sweep
from pipeline.tracking.mlflow_runs import store_root
from tests.conftest import MlflowServer, paused_training, tiny_overrides

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
EXPERIMENT = "test-tracking"


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> str:
    """One SQLite store for the tests that need not start from a fresh one (creating a store
    runs MLflow's migrations: seconds). Each of those tests uses its own experiment."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def run(command: list[str], cwd: Path, uri: str, check: bool = True):
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**ENV, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def experiment_runs(client: MlflowClient, name: str = EXPERIMENT):
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    return client.search_runs([experiment.experiment_id])


def assert_default_experiment_empty(client: MlflowClient) -> None:
    default = client.get_experiment_by_name("Default")
    if default is not None:
        assert not client.search_runs([default.experiment_id])


def dotted(tree: dict, prefix: str = ""):
    """(key, value) for every setting of a YAML tree, keys dotted, a list of layers numbered:
    how the README says MLflow gets them, written out independently of
    pipeline.tracking.mlflow_runs."""
    for key, value in tree.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            value = {str(i): layer for i, layer in enumerate(value)}
        if isinstance(value, dict):
            yield from dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_stage_run_holds_config_curves_test_metrics_and_weights(tmp_path, small_csvs, shared_store):
    uri = shared_store
    layers = "+model.layers=[{type:dense,units:16},{type:relu},{type:dense,units:10}]"
    overrides = [*tiny_overrides(tmp_path, small_csvs, experiment=EXPERIMENT), layers]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    for stage in ("prepare", "train", "evaluate"):
        run([sys.executable, "-m", f"pipeline.stages.{stage}"], tmp_path, uri)

    client = MlflowClient(uri)
    (only,) = experiment_runs(client)
    assert only.info.status == "FINISHED"
    # the whole resolved config under dotted keys (each layer's own): every setting of
    # params.yaml, and the schema's defaults of those it leaves out (optimizer.momentum, ...);
    # no local path: paths.* are where this machine keeps its files, not a setting
    written = yaml.safe_load((tmp_path / "params.yaml").read_text())
    expected = {key: str(value) for key, value in dotted(written) if not key.startswith("paths.")}
    params = only.data.params
    assert {key: params.get(key) for key in expected} == expected
    assert not [key for key in params if key.startswith("paths.")]
    assert {key.split(".")[0] for key in set(params) - set(expected)} <= set(written)
    assert params["optimizer.momentum"] == "0.9"  # a default params.yaml leaves out
    assert params["model.layers.0.units"] == "16" and params["model.layers.1.type"] == "relu"
    assert params["optimizer.lr"] == "0.002" and params["train.epochs"] == "3"
    per_epoch = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds")
    for metric in per_epoch:
        history = client.get_metric_history(only.info.run_id, metric)
        assert sorted(m.step for m in history) == [1, 2, 3], metric
    for metric in ("layers/0_dense/update_ratio", "layers/1_relu/dead_fraction"):  # diagnostics
        history = client.get_metric_history(only.info.run_id, metric)
        assert sorted(m.step for m in history) == [1, 2, 3], metric
    assert 1.5 < only.data.metrics["checks/initial_loss"] < 3.5  # the first checks, at step 0
    assert (tmp_path / "reports" / "dynamics.png").is_file()
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert only.data.metrics["test_accuracy"] == metrics["test"]["accuracy"]
    assert only.data.metrics["test_loss"] == pytest.approx(metrics["test"]["loss"])
    tags = only.data.tags
    assert len(tags["git.commit"]) == 40 and tags["git.dirty"] in ("true", "false")
    assert tags["command"] == "python -m pipeline.stages.train" and len(tags["data.hash"]) == 16

    artifacts = {a.path for a in client.list_artifacts(only.info.run_id)}
    assert {"model.npz", "config.yaml", "reports"} <= artifacts
    reports = {a.path for a in client.list_artifacts(only.info.run_id, "reports")}
    assert {"reports/metrics.json", "reports/report.md", "reports/history.csv"} <= reports
    downloaded = client.download_artifacts(only.info.run_id, "model.npz", str(tmp_path / "dl"))
    x, y = load_split(tmp_path / "prepared", "test")
    _, accuracy, _ = sn.evaluate(sn.load_weights(downloaded), x, y)
    assert accuracy == metrics["test"]["accuracy"]


def sweep(tmp_path: Path, small_csvs, uri: str, lrs: str, *extra: str, experiment=EXPERIMENT):
    command = [
        sys.executable,
        "-m",
        "pipeline.tools.sweep",
        "-m",
        f"optimizer.lr={lrs}",
        *tiny_overrides(tmp_path, small_csvs, epochs=2, experiment=experiment),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *extra,
    ]
    return run(command, PROJECT_ROOT, uri)


@pytest.mark.parametrize(
    ("launcher", "lrs"),
    [
        ([], ["0.01", "0.05"]),
        # 4 jobs at once against one fresh store: nobody races to create the store or experiment
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"], ["0.01", "0.02", "0.05", "0.1"]),
    ],
    ids=["sequential", "joblib-4-parallel"],
)
def test_sweep_jobs_are_child_runs_of_one_parent(tmp_path, small_csvs, launcher, lrs):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # fresh: the store is created before the jobs
    model = PROJECT_ROOT / "models" / "model.npz"
    before = model.stat().st_mtime_ns if model.exists() else None
    result = sweep(tmp_path, small_csvs, uri, ",".join(lrs), *launcher)
    assert "Error" not in result.stderr and "Traceback" not in result.stderr, result.stderr

    client = MlflowClient(uri)
    runs = experiment_runs(client)
    parents = [r for r in runs if r.data.tags.get("sweep.parent") == "true"]
    children = [r for r in runs if r not in parents]
    assert len(parents) == 1 and len(children) == len(lrs)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    sweep_id = f"{tmp_path.name}/sweep"  # README: `sweep <date>/<time>`, its jobs tagged `sweep`
    assert parents[0].info.run_name == f"sweep {sweep_id}"
    assert {r.data.tags["sweep"] for r in runs} == {sweep_id}
    assert {r.data.tags["mlflow.runName"] for r in children} == {f"optimizer.lr={lr}" for lr in lrs}
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all("test_accuracy" in r.data.metrics for r in children)
    assert_default_experiment_empty(client)
    # what `make bench-sweep` reads: every epoch of every job of this sweep, to the microsecond
    seconds = bench_sweep.logged_epoch_seconds(tmp_path / "mlflow.db", tmp_path / "sweep")
    assert len(seconds) == 2 * len(lrs) and all(s > 0 for s in seconds)
    runs_seconds = sum((r.info.end_time - r.info.start_time) / 1000 for r in children)
    assert sum(seconds) <= runs_seconds  # the epochs happened inside their runs
    assert bench_sweep.logged_epoch_seconds(tmp_path / "mlflow.db", tmp_path / "other") == []
    models = sorted((tmp_path / "sweep").glob("*/model.npz"))
    assert len(models) == len(lrs)  # each job its own folder
    after = model.stat().st_mtime_ns if model.exists() else None
    assert before == after  # the DVC-tracked model is never touched


def test_diverging_job_fails_the_sweep_goes_on_and_compare_ranks_it(
    tmp_path, small_csvs, shared_store
):
    lrs = "0.001,0.05,1e30"
    sweep(tmp_path, small_csvs, shared_store, lrs, "optimizer=sgd", experiment="compare")
    runs = experiment_runs(MlflowClient(shared_store), "compare")
    status = {r.data.tags["mlflow.runName"]: r for r in runs if "sweep.parent" not in r.data.tags}
    assert status["optimizer.lr=0.001"].info.status == "FINISHED"
    assert status["optimizer.lr=0.05"].info.status == "FINISHED"
    failed = status["optimizer.lr=1e+30"]
    assert failed.info.status == "FAILED"
    assert "diverged in epoch 1" in failed.data.tags["error"]

    png = tmp_path / "curves.png"
    command = ["-m", "pipeline.tools.compare", "--experiment", "compare", "--png", str(png)]
    lines = run([sys.executable, *command], tmp_path, shared_store).stdout.splitlines()
    header = lines[1].split()
    assert header[:3] == ["run", "status", "optimizer.lr"] and "val_accuracy" in header
    rows = [line.split() for line in lines[2:5]]
    accuracies = [float(row[header.index("val_accuracy")]) for row in rows[:2]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert rows[2][:3] == ["optimizer.lr=1e+30", "FAILED", "1e+30"]  # a failed run comes last
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unreachable_server_is_reported_before_training(tmp_path, small_csvs, refused_port):
    port = refused_port  # nobody listens on it
    overrides = tiny_overrides(tmp_path, small_csvs, experiment=EXPERIMENT)
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    uri = f"http://127.0.0.1:{port}"
    run([sys.executable, "-m", "pipeline.stages.prepare"], tmp_path, uri)
    result = run([sys.executable, "-m", "pipeline.stages.train"], tmp_path, uri, check=False)
    assert result.returncode == 1
    assert f"cannot reach the MLflow tracking server at {uri}" in result.stderr
    assert "epoch" not in result.stdout and not (tmp_path / "models" / "model.npz").exists()


def test_store_of_a_queued_dvc_experiment_is_the_original_projects(tmp_path):
    copy = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    assert store_root(copy) == tmp_path / "project"
    assert store_root(tmp_path / "project") == tmp_path / "project"


def test_real_tracking_server_holds_the_sweep_and_its_outage_loses_nothing(
    tmp_path, small_csvs, mlflow_server
):
    """A sweep logs to a real `mlflow server`; then the server dies in the middle of a training:
    training finishes with every output written, the user is warned once, and evaluate still
    writes its reports. (One server for both: starting one takes ~15 s.)"""
    sweep(tmp_path, small_csvs, mlflow_server.uri, "0.01,0.02")
    client = MlflowClient(mlflow_server.uri)
    runs = [r for r in experiment_runs(client) if "sweep.parent" not in r.data.tags]
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    for child in runs:
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [1, 2]
        path = client.download_artifacts(child.info.run_id, "model.npz", str(tmp_path / "dl"))
        assert sn.load_weights(path).layer_sizes == [784, 16, 10]
    assert np.isfinite([r.data.metrics["test_accuracy"] for r in runs]).all()

    outage_at_epoch_3(tmp_path / "outage", small_csvs, mlflow_server)


def outage_at_epoch_3(folder: Path, small_csvs, server: MlflowServer) -> None:
    epochs = 10
    overrides = tiny_overrides(folder, small_csvs, epochs=epochs, experiment=EXPERIMENT)
    folder.mkdir()
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    prepare(validate(compose(overrides)))
    client_env = {
        **ENV,
        "MLFLOW_TRACKING_URI": server.uri,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # MLflow's default retries for ~4 minutes
    }
    process = paused_training(folder, client_env, epoch=3)  # while the server goes away
    server.stop()
    process.send_signal(signal.SIGCONT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    # one warning, whichever call meets the dead server first: the epoch's metrics ("logging
    # epoch 3") or the per-layer statistics ("logging metrics of step 4"), by where the pause fell
    failed = [line for line in err.splitlines() if line.startswith("warning: logging ")]
    assert "Traceback" not in err and len(failed) == 1, err
    assert "nothing more is logged to run" in err and "is incomplete" in err
    assert f"epoch {epochs}/{epochs}" in out
    assert sn.load_weights(folder / "models" / "model.npz").layer_sizes == [784, 16, 10]
    assert len(pd.read_csv(folder / "reports" / "history.csv")) == epochs

    evaluated = run([sys.executable, "-m", "pipeline.stages.evaluate"], folder, server.uri)
    assert "warning: logging the evaluation into run" in evaluated.stderr
    assert (folder / "reports" / "metrics.json").is_file()


def test_git_dirty_ignores_what_dvc_repro_rewrites_but_not_the_code(tmp_path, monkeypatch):
    """`dvc repro` rewrites dvc.lock (and reports/) before train starts: a run of committed
    code is still `git.dirty=false`; an edited source file makes it `true`."""
    from pipeline.tracking import mlflow_runs

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("code.py", "dvc.lock", "reports/metrics.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("committed\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "c")
    monkeypatch.setattr(mlflow_runs, "PROJECT_ROOT", tmp_path)
    (tmp_path / "dvc.lock").write_text("rewritten by dvc\n")
    (tmp_path / "reports" / "metrics.json").write_text("rewritten by evaluate\n")
    assert mlflow_runs.git_tags()["git.dirty"] == "false"
    (tmp_path / "code.py").write_text("edited\n")
    assert mlflow_runs.git_tags()["git.dirty"] == "true"
