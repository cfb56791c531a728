"""A sweep that cannot start says why in one line, before Hydra launches any job."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.tools.sweep import check_signal_delay
from tests.conftest import hydra_config, tiny_overrides

SLURM = "hydra/launcher=submitit_slurm"


def sweep(
    tmp_path: Path, small_csvs: tuple[Path, Path], launcher: list[str], uri: str
) -> list[str]:
    """Run a two-job sweep that must not start; returns its one line on stderr."""
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
    assert "Launching" not in result.stdout + result.stderr
    assert not (tmp_path / "models").exists()
    return errors


# with joblib, the workers are being started while the parent run is created: the error
# cancels them without joblib's warning about cancelled tasks
@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib"]
)
def test_unreachable_tracking_server_stops_the_sweep_before_any_job(
    tmp_path, small_csvs, launcher, refused_port
):
    uri = f"http://127.0.0.1:{refused_port}"  # nobody listens on it
    errors = sweep(tmp_path, small_csvs, launcher, uri)
    assert errors[0].startswith(f"error: cannot reach the MLflow tracking server at {uri}")


def runs_in(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as connection:
        return connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


# SLURM signals a job signal_delay_s before its time limit: with the limit at or below it, each
# job would get SIGUSR2 as it starts. Refused before anything is submitted (no SLURM needed)
@pytest.mark.parametrize("timeout_min", [1, 2])
def test_a_slurm_time_limit_not_above_the_signal_delay_stops_the_sweep_before_any_job(
    tmp_path, small_csvs, timeout_min
):
    store = tmp_path / "mlflow.db"
    launcher = [SLURM, f"hydra.launcher.timeout_min={timeout_min}"]
    errors = sweep(tmp_path, small_csvs, launcher, f"sqlite:///{store}")
    assert errors[0].startswith(f"error: hydra.launcher.timeout_min={timeout_min} ")
    assert "hydra.launcher.signal_delay_s=120" in errors[0]
    assert not (tmp_path / "multirun").exists()  # no job folder, no .submitit
    assert runs_in(store) == 0


def test_the_signal_delay_check_takes_only_a_limit_above_the_delay():
    launcher = hydra_config(SLURM).hydra.launcher
    for timeout_min, signal_delay_s in [(3, 120), (0, 120), (1, 59), (60, 120)]:
        launcher.timeout_min, launcher.signal_delay_s = timeout_min, signal_delay_s
        check_signal_delay(launcher)  # 0: sbatch's "no time limit"
    for timeout_min, signal_delay_s in [(2, 120), (1, 60), (1, 90)]:
        launcher.timeout_min, launcher.signal_delay_s = timeout_min, signal_delay_s
        with pytest.raises(PipelineError, match="raise timeout_min"):
            check_signal_delay(launcher)


# submitit's local launcher has no signal_delay_s (its executor signals 30 s before the limit)
@pytest.mark.parametrize(
    "overrides",
    [["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=1"], []],
    ids=["submitit_local", "basic"],
)
def test_launchers_without_a_signal_delay_are_not_checked(overrides):
    check_signal_delay(hydra_config(*overrides).hydra.launcher)
