"""A sweep that cannot start says why in one line, before Hydra launches any job."""

import os
import subprocess
import sys

import pytest

from tests.conftest import free_port, tiny_overrides


# with joblib, the workers are being started while the parent run is created: the error
# cancels them without joblib's warning about cancelled tasks
@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib"]
)
def test_unreachable_tracking_server_stops_the_sweep_before_any_job(tmp_path, small_csvs, launcher):
    uri = f"http://127.0.0.1:{free_port()}"  # nobody listens on it
    overrides = [*tiny_overrides(tmp_path, small_csvs), *launcher]
    command = [sys.executable, "-m", "pipeline.tools.sweep", "-m", "optimizer.lr=0.01,0.02"]
    result = subprocess.run(
        [*command, *overrides, f"hydra.sweep.dir={tmp_path / 'multirun'}"],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr  # no UserWarning, no traceback
    assert errors[0].startswith(f"error: cannot reach the MLflow tracking server at {uri}")
    assert "Launching" not in result.stdout + result.stderr
    assert not (tmp_path / "models").exists()
