"""The shared server on PostgreSQL with artifacts in S3: four jobs logging at once, and the S3
server going away while artifacts upload (a warning; every output on disk; exit 0)."""

import secrets
import sys
from pathlib import Path

import pytest

from pipeline.cluster import s3
from pipeline.config import compose, to_yaml
from tests.cluster.conftest import (
    children_by_name,
    client_env,
    experiment_runs,
    mlflow_client,
    run,
    sweep_command,
)
from tests.conftest import tiny_overrides


def artifact_keys(cluster) -> list[str]:
    listing = s3.s3_client(cluster.s3_endpoint).list_objects_v2(
        Bucket="mlflow", Prefix="artifacts/"
    )
    return [item["Key"] for item in listing.get("Contents", [])]


def test_four_concurrent_jobs_on_the_postgres_s3_server(cluster, tmp_path, small_csvs, monkeypatch):
    experiment = f"concurrent-{secrets.token_hex(4)}"
    lrs = ["0.01", "0.02", "0.05", "0.1"]
    command = sweep_command(
        tmp_path, small_csvs, experiment, f"optimizer.lr={','.join(lrs)}",
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=4",
    )  # fmt: skip
    result = run(command, client_env(cluster))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "warning" not in result.stderr, result.stderr

    runs = experiment_runs(mlflow_client(cluster, monkeypatch), experiment)
    jobs = children_by_name(runs)
    assert sorted(jobs) == [f"optimizer.lr={lr}" for lr in lrs]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all("test_accuracy" in r.data.metrics for r in jobs.values())
    keys = artifact_keys(cluster)
    for job in jobs.values():
        assert any(job.info.run_id in key and key.endswith(".npz") for key in keys)


@pytest.mark.cluster_fault
def test_s3_down_while_artifacts_upload_warns_and_keeps_outputs(cluster, tmp_path, small_csvs):
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=2, experiment="s3-down")
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    env = client_env(cluster, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    assert run([sys.executable, "-m", "pipeline.stages.prepare"], env, cwd=tmp_path).returncode == 0
    folder = Path(cluster.folder) / "s3"
    port = int(cluster.s3_endpoint.rsplit(":", 1)[1])
    s3.stop(folder)
    try:
        result = run([sys.executable, "-m", "pipeline.stages.train"], env, cwd=tmp_path)
    finally:
        s3.start(folder, port)  # empty again: the buckets are made anew
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "warning: " in result.stderr and "to MLflow failed" in result.stderr, result.stderr
    assert (tmp_path / "models" / "model.npz").is_file()
    assert (tmp_path / "reports" / "history.csv").is_file()
