"""MLflow tracking against real stores: a temp SQLite store, and a real `mlflow server`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

import scratchnn as sn
from pipeline.config import PROJECT_ROOT, compose, to_yaml, validate
from pipeline.prepare import load_split
from pipeline.tracking import config_tree, flatten, store_root

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
EXPERIMENT = "test-tracking"


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> str:
    """One SQLite store for the tests that need not start from a fresh one (creating a store
    runs MLflow's migrations: seconds). Each of those tests uses its own experiment."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def tiny_overrides(
    tmp_path: Path, small_csvs: tuple[Path, Path], epochs: int = 3, experiment: str = EXPERIMENT
) -> list[str]:
    train_csv, test_csv = small_csvs
    return [
        f"data.train_csv={train_csv}",
        f"data.test_csv={test_csv}",
        "data.val_size=50",
        f"paths.prepared={tmp_path / 'prepared'}",
        f"paths.model={tmp_path / 'model.npz'}",
        f"paths.reports={tmp_path / 'reports'}",
        f"train.epochs={epochs}",
        "train.batch_size=32",
        "model.hidden_sizes=[16]",
        f"tracking.experiment={experiment}",
    ]


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


def test_stage_run_holds_config_curves_test_metrics_and_weights(tmp_path, small_csvs, shared_store):
    uri = shared_store
    overrides = tiny_overrides(tmp_path, small_csvs)
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    for stage in ("prepare", "train", "evaluate"):
        run([sys.executable, "-m", f"pipeline.{stage}"], tmp_path, uri)

    client = MlflowClient(uri)
    (only,) = experiment_runs(client)
    assert only.info.status == "FINISHED"
    cfg = validate(compose(overrides))
    expected = {key: str(value) for key, value in flatten(config_tree(cfg)).items()}
    assert only.data.params == expected  # the whole resolved config, dotted keys
    for metric in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        history = client.get_metric_history(only.info.run_id, metric)
        assert sorted(m.step for m in history) == [1, 2, 3], metric
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert only.data.metrics["test_accuracy"] == metrics["test"]["accuracy"]
    tags = only.data.tags
    assert len(tags["git.commit"]) == 40 and tags["git.dirty"] in ("true", "false")
    assert tags["command"] == "python -m pipeline.train" and len(tags["data.hash"]) == 16

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
        "pipeline.sweep",
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
        ([], ["0.01", "0.02", "0.05"]),
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
    assert {r.data.tags["mlflow.runName"] for r in children} == {f"optimizer.lr={lr}" for lr in lrs}
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all("test_accuracy" in r.data.metrics for r in children)
    assert_default_experiment_empty(client)
    models = sorted((tmp_path / "sweep").glob("*/model.npz"))
    assert len(models) == len(lrs)  # each job its own folder
    after = model.stat().st_mtime_ns if model.exists() else None
    assert before == after  # the DVC-tracked model is never touched


def test_diverging_job_fails_and_the_sweep_goes_on(tmp_path, small_csvs, shared_store):
    sweep(tmp_path, small_csvs, shared_store, "0.01,1e30", "optimizer=sgd", experiment="diverge")
    runs = experiment_runs(MlflowClient(shared_store), "diverge")
    status = {r.data.tags["mlflow.runName"]: r for r in runs if "sweep.parent" not in r.data.tags}
    assert status["optimizer.lr=0.01"].info.status == "FINISHED"
    failed = status["optimizer.lr=1e+30"]
    assert failed.info.status == "FAILED"
    assert "diverged in epoch 1" in failed.data.tags["error"]


def test_compare_prints_the_sweep_sorted_and_draws_curves(tmp_path, small_csvs, shared_store):
    uri = shared_store
    sweep(tmp_path, small_csvs, uri, "0.001,0.05", experiment="compare")
    png = tmp_path / "curves.png"
    result = run(
        [sys.executable, "-m", "pipeline.compare", "--experiment", "compare", "--png", str(png)],
        tmp_path,
        uri,
    )
    lines = result.stdout.splitlines()
    header = lines[1].split()
    assert header[:3] == ["run", "status", "optimizer.lr"] and "val_accuracy" in header
    rows = [line.split() for line in lines[2:4]]
    accuracies = [float(row[header.index("val_accuracy")]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and len(rows) == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unreachable_server_is_reported_before_training(tmp_path, small_csvs):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    overrides = tiny_overrides(tmp_path, small_csvs)
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    uri = f"http://127.0.0.1:{port}"
    run([sys.executable, "-m", "pipeline.prepare"], tmp_path, uri)
    result = run([sys.executable, "-m", "pipeline.train"], tmp_path, uri, check=False)
    assert result.returncode == 1
    assert f"cannot reach the MLflow tracking server at {uri}" in result.stderr
    assert "epoch" not in result.stdout and not (tmp_path / "model.npz").exists()


def test_store_of_a_queued_dvc_experiment_is_the_original_projects(tmp_path):
    copy = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    assert store_root(copy) == tmp_path / "project"
    assert store_root(tmp_path / "project") == tmp_path / "project"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on loopback, in its own process group, stopped with the group."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "1",
        ],
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mlflow server did not start: {server.stderr.read()}"
                    ) from None
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_sweep_against_a_real_tracking_server(tmp_path, small_csvs, mlflow_server):
    sweep(tmp_path, small_csvs, mlflow_server, "0.01,0.02")
    client = MlflowClient(mlflow_server)
    runs = [r for r in experiment_runs(client) if "sweep.parent" not in r.data.tags]
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    for child in runs:
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [1, 2]
        path = client.download_artifacts(child.info.run_id, "model.npz", str(tmp_path / "dl"))
        assert sn.load_weights(path).layer_sizes == [784, 16, 10]
    assert np.isfinite([r.data.metrics["test_accuracy"] for r in runs]).all()
