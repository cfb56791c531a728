"""Sweeps through SLURM onto the shared server: every job an MLflow child run with its
artifacts in S3; a diverging job FAILED; jobs the scheduler ends (scancel, the time limit)
KILLED, not RUNNING forever; sacct shows the array."""

import contextlib
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.cluster import s3
from tests.cluster.conftest import (
    HANG_SECONDS,
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
    (parent,) = [r for r in runs if r.data.tags.get("sweep.parent") == "true"]
    assert parent.info.status == "FAILED" and parent.data.tags["error"] == "1 of 2 jobs FAILED"
    assert (parent.data.tags["sweep.jobs.finished"], parent.data.tags["sweep.jobs.failed"]) == (
        "1",
        "1",
    )
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


def wait_for(condition, timeout: float = HANG_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def job_processes(job: str) -> list[int]:
    """The Python processes of array job ``job`` (``123_1``) on this node: those whose
    environment SLURM gave that array id and task id."""
    array_id, task_id = job.split("_")
    wanted = {f"SLURM_ARRAY_JOB_ID={array_id}".encode(), f"SLURM_ARRAY_TASK_ID={task_id}".encode()}
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or not (proc / "comm").read_text().startswith("python"):
                continue
            environ = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:  # gone meanwhile
            continue
        if wanted <= environ:
            found.append(int(proc.name))
    return found


def signal_job(job: str, signum: int) -> None:
    for pid in job_processes(job):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def elapsed_seconds(job: str, env: dict[str, str]) -> int:
    """How long a running job has run, from squeue (``1:02``, ``1-00:00:05``)."""
    shown = subprocess.run(
        ["squeue", "-h", "-j", job, "-o", "%M"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    seconds = 0
    for part in shown.split("-")[-1].split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


@pytest.mark.minutes
def test_jobs_the_scheduler_ends_are_killed_runs_and_the_parent_says_so(
    slurm_cluster, tmp_path, small_csvs, monkeypatch
):
    """Two jobs train; one is cancelled (scancel), the other outlives its time limit (lowered
    below its elapsed time: SLURM sends SIGTERM at the limit, SIGKILL KillWait later). Both
    trainings end their runs KILLED, sacct says CANCELLED and TIMEOUT, the sweep exits 1 (the
    launcher got no result from them) and its parent run ends KILLED, counting them."""
    experiment = f"slurm-killed-{secrets.token_hex(4)}"
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer.lr=0.01,0.02", "train.epochs=1000000",
        *SLURM, f"hydra.launcher.name={experiment}", "hydra.launcher.timeout_min=10",
    )  # fmt: skip
    env = client_env(slurm_cluster)
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = mlflow_client(slurm_cluster, monkeypatch)

    def both_training() -> bool:
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found else []
        jobs = list(children_by_name(runs).values())
        return len(jobs) == 2 and all("train_loss" in job.data.metrics for job in jobs)

    try:
        wait_for(both_training, what="both jobs' training")
        # the launcher waits for the jobs in order and stops at the first without a result:
        # the first outlives its time limit, after the second is cancelled
        timed_out, cancelled = sorted(array_ids(tmp_path / "sweep"))
        subprocess.run(["scancel", cancelled], env=env, check=True)
        # the other must run past a minute, SLURM's shortest limit: frozen meanwhile, so that it
        # does not spend a core (and the server's) on thousands of epochs nobody looks at
        assert job_processes(timed_out), f"no process of job {timed_out} found"
        signal_job(timed_out, signal.SIGSTOP)
        try:
            wait_for(lambda: elapsed_seconds(timed_out, env) > 65, what="a minute of the job")
        finally:
            signal_job(timed_out, signal.SIGCONT)
        limit = ["scontrol", "update", f"JobId={timed_out}", "TimeLimit=1"]  # minutes
        subprocess.run(limit, env=env, check=True)
        _, err = sweep.communicate(timeout=HANG_SECONDS)
    finally:
        sweep.kill()
    assert sweep.returncode == 1, err
    runs = experiment_runs(client, experiment)
    jobs = children_by_name(runs)
    seen = {
        name: (job.info.status, job.data.tags.get("slurm.job_id")) for name, job in jobs.items()
    }
    assert {job.info.status for job in jobs.values()} == {"KILLED"}, (seen, err)
    assert {job.data.tags["error"] for job in jobs.values()} == {"interrupted"}
    assert {job for _, job in seen.values()} == {timed_out, cancelled}  # each run names its job
    accounted = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", cancelled.split("_")[0], "-o", "JobID,State"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert f"{timed_out}|TIMEOUT" in accounted, accounted
    assert any(line.startswith(f"{cancelled}|CANCELLED") for line in accounted), accounted
    (parent,) = [r for r in runs if r.data.tags.get("sweep.parent") == "true"]
    assert parent.info.status == "KILLED"
    assert parent.data.tags["sweep.jobs.killed"] == "2"
    assert parent.data.tags["error"] == "2 of 2 jobs KILLED"
