"""Sweeps through SLURM onto the shared server: every job an MLflow child run with its
artifacts in S3; a diverging job FAILED; jobs the scheduler ends (scancel, the time limit)
KILLED, not RUNNING forever; sacct shows the array."""

import re
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
    return {p.name for p in (sweep_dir / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name)}


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


def test_a_job_cancelled_by_the_scheduler_is_a_killed_run(
    slurm_cluster, tmp_path, small_csvs, monkeypatch
):
    """scancel once the job trains: SIGTERM reaches the training, which ends its run KILLED."""
    experiment = f"slurm-killed-{secrets.token_hex(4)}"
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer.lr=0.01", "train.epochs=1000000", *SLURM,
        f"hydra.launcher.name={experiment}", "hydra.launcher.timeout_min=10",
    )  # fmt: skip
    env = client_env(slurm_cluster)
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = mlflow_client(slurm_cluster, monkeypatch)

    def training() -> bool:
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found else []
        jobs = list(children_by_name(runs).values())
        return bool(jobs) and "train_loss" in jobs[0].data.metrics

    try:
        wait_for(training, what="the job's training")
        # one job: submitit names its folder after the plain job id
        submitted = (tmp_path / "sweep" / ".submitit").iterdir()
        ids = [p.name for p in submitted if re.fullmatch(r"\d+(_\d+)?", p.name)]
        assert ids
        subprocess.run(["scancel", *ids], env=env, check=True)
        sweep.wait(timeout=120)
    finally:
        sweep.kill()
    (job,) = children_by_name(experiment_runs(client, experiment)).values()
    assert job.info.status == "KILLED"
    assert job.data.tags["error"] == "interrupted"
