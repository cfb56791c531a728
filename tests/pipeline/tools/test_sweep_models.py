"""A Hydra multirun over architectures: `model=mlp,cnn`, each job its own MLflow run."""

import os
import subprocess
import sys

from mlflow import MlflowClient

from pipeline.config import PROJECT_ROOT
from tests.conftest import tiny_overrides


def test_a_sweep_over_mlp_and_cnn_trains_both(tmp_path, small_csvs):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [o for o in tiny_overrides(tmp_path, small_csvs, epochs=2) if "hidden" not in o]
    overrides += ["tracking.experiment=models", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.tools.sweep", "-m", "model=mlp,cnn", *overrides],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("models")
    runs = {
        run.data.tags["mlflow.runName"]: run
        for run in client.search_runs([experiment.experiment_id])
        if run.data.tags.get("sweep.parent") != "true"
    }
    assert set(runs) == {"model=mlp", "model=cnn"}
    assert {run.info.status for run in runs.values()} == {"FINISHED"}
    assert runs["model=cnn"].data.params["model.layers.0.type"] == "conv2d"
    assert runs["model=cnn"].data.params["model.layers.0.filters"] == "16"
    assert runs["model=mlp"].data.params["model.hidden_sizes"] == "[128, 64]"
    assert all(run.data.metrics["test_accuracy"] > 0.3 for run in runs.values())
    models = sorted((tmp_path / "sweep").glob("*/model.npz"))
    assert len(models) == 2
