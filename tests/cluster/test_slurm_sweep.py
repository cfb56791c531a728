"""Sweeps through SLURM onto the shared server: every job an MLflow child run with its
artifacts in S3; a diverging job FAILED; jobs the scheduler ends (scancel, the time limit)
KILLED, not RUNNING forever; sacct shows the array."""

import secrets
import subprocess
import time
from pathlib import Path

from pipeline.cluster import s3
from tests.cluster.conftest import (
    children_by_name,
    client_env,
    experiment_runs,
    mlflow_client,
    run,
    sweep_command,
)

SLURM = ("hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug")


def array_ids(sweep_dir: Path) -> set[str]:
    """SLURM's ids of a sweep's jobs (submitit names its folders after them)."""
    return {p.name for p in (sweep_dir / ".submitit").iterdir() if "_" in p.name}


def test_slurm_sweep_runs_every_job_on_the_shared_server(
    slurm_cluster, tmp_path, small_csvs, monkeypatch
):
    experiment = f"slurm-{secrets.token_hex(4)}"
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer=sgd", "optimizer.lr=0.05,1e30", *SLURM
    )
    result = run(command, client_env(slurm_cluster))
    assert result.returncode == 0, result.stderr

    runs = experiment_runs(mlflow_client(slurm_cluster, monkeypatch), experiment)
    jobs = children_by_name(runs)
    assert jobs["optimizer.lr=0.05"].info.status == "FINISHED"
    assert jobs["optimizer.lr=1e+30"].info.status == "FAILED"
    assert "diverged in epoch 1" in jobs["optimizer.lr=1e+30"].data.tags["error"]
    finished = jobs["optimizer.lr=0.05"]
    assert finished.info.artifact_uri.startswith("mlflow-artifacts:")  # through the server
    keys = [
        o["Key"]
        for o in s3.s3_client(slurm_cluster.s3_endpoint)
        .list_objects_v2(Bucket="mlflow", Prefix="artifacts/")
        .get("Contents", [])
    ]
    assert any(finished.info.run_id in key and key.endswith(".npz") for key in keys), keys

    ids = array_ids(tmp_path / "sweep")
    assert len(ids) == 2 and len({i.split("_")[0] for i in ids}) == 1  # one array of two
    accounted = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", next(iter(ids)).split("_")[0], "-o", "JobID,State"],
        env=client_env(slurm_cluster), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert sorted(accounted) == sorted(f"{i}|COMPLETED" for i in ids), accounted


def wait_for(condition, timeout: float = 240, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_jobs_the_scheduler_ends_are_killed_runs(slurm_cluster, tmp_path, small_csvs, monkeypatch):
    """One job cancelled with scancel once it trains, the other ended by its time limit (SLURM's
    warning signal, 30 s before the 1-minute limit): both runs end KILLED."""
    experiment = f"slurm-killed-{secrets.token_hex(4)}"
    name = f"killed-{secrets.token_hex(4)}"
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer.lr=0.01,0.02", "train.epochs=1000000",
        *SLURM, f"hydra.launcher.name={name}", "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=30",
    )  # fmt: skip
    env = client_env(slurm_cluster)
    sweep = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
    )
    client = mlflow_client(slurm_cluster, monkeypatch)
    try:

        def training(run_name: str) -> bool:
            experiment_ = client.get_experiment_by_name(experiment)
            if experiment_ is None:
                return False
            jobs = children_by_name(client.search_runs([experiment_.experiment_id]))
            return run_name in jobs and "train_loss" in jobs[run_name].data.metrics

        wait_for(lambda: training("optimizer.lr=0.01"), what="the first job's training")
        first = min(array_ids(tmp_path / "sweep"))
        subprocess.run(["scancel", first], env=env, check=True)
        sweep.wait(timeout=240)  # the other job runs until its time limit
    finally:
        sweep.kill()
    jobs = children_by_name(experiment_runs(client, experiment))
    assert {jobs[n].info.status for n in ("optimizer.lr=0.01", "optimizer.lr=0.02")} == {"KILLED"}
