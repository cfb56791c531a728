"""The shared server on PostgreSQL with artifacts in S3: four jobs logging at once, and the S3
server going away while artifacts upload (a warning; every output on disk; exit 0)."""

import secrets
import signal
import subprocess
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
    """The S3 server stops during a training (held at epoch 1): logging its weights and reports
    through the server fails, which is a warning; the training's outputs are all on disk."""
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=3, experiment="s3-down")
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    env = client_env(cluster, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    assert run([sys.executable, "-m", "pipeline.stages.prepare"], env, cwd=tmp_path).returncode == 0
    folder = Path(cluster.folder) / "s3"
    port = int(cluster.s3_endpoint.rsplit(":", 1)[1])
    train = subprocess.Popen(
        [sys.executable, "-m", "pipeline.stages.train"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert train.stdout is not None
        for line in train.stdout:
            if line.startswith("epoch  1/3") or line.startswith("epoch 1/3"):
                train.send_signal(signal.SIGSTOP)  # hold it while S3 goes away
                s3.stop(folder)
                train.send_signal(signal.SIGCONT)
                break
        _, err = train.communicate(timeout=300)
    finally:
        train.kill()
        s3.start(folder, port)  # empty again: the buckets are made anew
    assert train.returncode == 0, err
    assert "Traceback" not in err
    assert "warning: " in err and "to MLflow failed" in err, err
    assert (tmp_path / "models" / "model.npz").is_file()
    assert (tmp_path / "reports" / "history.csv").is_file()
