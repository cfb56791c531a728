"""A sweep process stopped by SIGTERM (or Ctrl-C) while its job trains: the job's run and the
sweep's parent run end KILLED, not RUNNING forever; the jobs not yet started never start. Only
a SIGKILL, after which nothing runs, leaves them RUNNING."""

import secrets
import signal
import subprocess

from tests.cluster.conftest import (
    HANG_SECONDS,
    children_by_name,
    client_env,
    experiment_runs,
    mlflow_client,
    sweep_command,
)
from tests.cluster.test_slurm_sweep import wait_for


def stopped_while_training(cluster, tmp_path, small_csvs, monkeypatch, stop: signal.Signals):
    """Start a two-job sweep whose first job trains for ever, send ``stop`` once it has logged
    an epoch; returns the sweep's exit code and stderr, the job's run and the parent run."""
    experiment = f"sweep-{stop.name.lower()}-{secrets.token_hex(4)}"
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer.lr=0.01,0.02", "train.epochs=1000000"
    )
    sweep = subprocess.Popen(
        command, env=client_env(cluster), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    client = mlflow_client(cluster, monkeypatch)

    def training() -> bool:
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found else []
        return any("train_loss" in run.data.metrics for run in children_by_name(runs).values())

    try:
        wait_for(training, what="the first job's training")
        sweep.send_signal(stop)
        _, err = sweep.communicate(timeout=HANG_SECONDS)
    finally:
        sweep.kill()
    runs = experiment_runs(client, experiment)
    (job,) = children_by_name(runs).values()  # the second job never started
    (parent,) = [r for r in runs if r.data.tags.get("sweep.parent") == "true"]
    return sweep.returncode, err, job, parent


def test_a_sweep_stopped_by_sigterm_ends_its_parent_run_killed(
    cluster, tmp_path, small_csvs, monkeypatch
):
    code, err, job, parent = stopped_while_training(
        cluster, tmp_path, small_csvs, monkeypatch, signal.SIGTERM
    )
    assert code == 130, err
    assert job.info.status == "KILLED"
    assert parent.info.status == "KILLED" and parent.data.tags["error"] == "interrupted"
    assert parent.data.tags["sweep.jobs.killed"] == "1"


def test_only_a_sigkill_leaves_the_parent_run_running(cluster, tmp_path, small_csvs, monkeypatch):
    code, err, job, parent = stopped_while_training(
        cluster, tmp_path, small_csvs, monkeypatch, signal.SIGKILL
    )
    assert code == -signal.SIGKILL, err
    assert parent.info.status == job.info.status == "RUNNING"
    assert "error" not in parent.data.tags and "sweep.jobs.running" not in parent.data.tags
