"""One local cluster (pipeline.cluster: SLURM, PostgreSQL, S3, the MLflow server with logins)
for the whole test session, shared by the pytest-xdist workers: the first worker to need it
starts it, the last one done stops it (by PID). Tests that need a missing program (SLURM,
PostgreSQL) skip where it is missing, saying so, and fail in CI (``CI=true``), which installs them.
A test that stops or restarts a service starts its own (``own_tracking_server``): the shared
services stay up for the whole session."""

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from pipeline.cluster import mlflow_server, postgres, s3, services, slurm
from pipeline.config import PROJECT_ROOT
from tests.conftest import tiny_overrides, unavailable


def missing_programs() -> list[str]:
    missing = [] if postgres.binaries() else ["postgres"]
    return missing + ([] if s3.executable() else ["moto_server"])


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[services.Cluster]:
    if missing := missing_programs():
        unavailable(f"not installed: {', '.join(missing)} (.ci/run installs them)")
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    users, where = shared / "cluster.users", shared / "cluster.path"
    with FileLock(shared / "cluster.lock"):
        count = int(users.read_text()) if users.is_file() else 0
        cluster = services.load(Path(where.read_text())) if count and where.is_file() else None
        if cluster is None:
            # pytest's own folders are private (0700): PostgreSQL's account could not enter them
            folder = Path(tempfile.mkdtemp(prefix="neuralscratch-cluster-"))
            where.write_text(str(folder))
            cluster = services.start(folder)
            (shared / "cluster-startup.json").write_text(json.dumps(cluster.startup_seconds))
        users.write_text(str(count + 1))
    try:
        yield cluster
    finally:
        with FileLock(shared / "cluster.lock"):
            count = int(users.read_text()) - 1
            users.write_text(str(count))
            if count == 0:
                services.remove(Path(cluster.folder))


def cluster_postgres(cluster: services.Cluster) -> postgres.Postgres:
    """The session cluster's PostgreSQL (its port is in the Optuna storage URL)."""
    port = int(cluster.optuna_storage.rsplit(":", 1)[1].split("/")[0])
    return postgres.Postgres(Path(cluster.folder) / "postgres", port)


@contextlib.contextmanager
def own_tracking_server(
    cluster: services.Cluster, folder: Path, s3_endpoint: str | None = None
) -> Iterator[services.Cluster]:
    """A tracking server of the test's own in ``folder``, on the session cluster's PostgreSQL
    and S3 (or the S3 at ``s3_endpoint``): the cluster as its clients see it with this server.
    A test that stops or restarts a service stops its own, so the tests on the shared server
    (the other xdist workers') never wait for it nor see it."""
    uri = services.on_free_ports(
        lambda port: mlflow_server.start(
            folder, port, cluster_postgres(cluster), s3_endpoint or cluster.s3_endpoint
        ),
        mlflow_server.stop,
        folder,
    )
    password_file = mlflow_server.admin_password_file(folder)
    try:
        yield dataclasses.replace(
            cluster, tracking_uri=uri, tracking_password_file=str(password_file)
        )
    finally:
        mlflow_server.stop(folder)


@pytest.fixture(scope="session")
def slurm_cluster(cluster: services.Cluster) -> services.Cluster:
    if cluster.slurm_conf is None:
        unavailable(f"SLURM not installed: {', '.join(slurm.missing_programs())}")
    return cluster


def client_env(cluster: services.Cluster, **changes: str | None) -> dict[str, str]:
    """The environment of a client of ``cluster``; a change to None removes a variable."""
    env = {**os.environ, **cluster.client_env(), "MLFLOW_DISABLE_TELEMETRY": "true"}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


# a hang guard, not a speed check: a 4-job sweep under a load of 10 on 2 cores took over 300 s
HANG_SECONDS = 900


def run(
    command: list[str], env: dict[str, str], cwd: Path = PROJECT_ROOT, timeout: float = HANG_SECONDS
):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


def sweep_command(folder: Path, csvs, experiment: str, *overrides: str) -> list[str]:
    return [
        sys.executable, "-m", "pipeline.tools.sweep", "-m",
        *tiny_overrides(folder, csvs, epochs=2, experiment=experiment),
        f"hydra.sweep.dir={folder / 'sweep'}",
        *overrides,
    ]  # fmt: skip


def mlflow_client(cluster: services.Cluster, monkeypatch: pytest.MonkeyPatch):
    """A client of the cluster's server as its admin, logged in through the environment (as
    users do; ``monkeypatch`` restores it after the test)."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", cluster.tracking_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", cluster.tracking_password)
    return MlflowClient(cluster.tracking_uri)


def experiment_runs(client, name: str):
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, name
    return client.search_runs([experiment.experiment_id])


def children_by_name(runs) -> dict:
    return {r.data.tags["mlflow.runName"]: r for r in runs if "sweep.parent" not in r.data.tags}
