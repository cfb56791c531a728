"""The shared server on PostgreSQL with artifacts in S3: four jobs logging at once; the S3
server going away while artifacts upload (a warning; every output on disk; exit 0); the
tracking server restarted in the middle of a SLURM sweep (no job hangs; runs complete or
reported incomplete). The two faults stop a server of the test's own, not the session's."""

import secrets
import signal
import subprocess
import sys
from pathlib import Path

from pipeline.cluster import daemon, mlflow_server, s3, services
from pipeline.config import compose, to_yaml
from tests.cluster.conftest import (
    HANG_SECONDS,
    children_by_name,
    client_env,
    cluster_postgres,
    experiment_runs,
    mlflow_client,
    own_tracking_server,
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


def test_s3_down_while_artifacts_upload_warns_and_keeps_outputs(cluster, tmp_path, small_csvs):
    """The S3 server stops during a training (held at epoch 1): logging its weights and reports
    through the tracking server fails, which is a warning; the training's outputs are all on
    disk. The S3 server and the tracking server in front of it are the test's own."""
    s3_folder = tmp_path / "own-s3"
    s3_url = services.on_free_ports(lambda port: s3.start(s3_folder, port), s3.stop, s3_folder)
    try:
        with own_tracking_server(cluster, tmp_path / "own-mlflow", s3_url) as own:
            err, returncode = train_while_s3_stops(own, tmp_path, small_csvs, s3_folder)
    finally:
        s3.stop(s3_folder)
    assert daemon.http_ok(f"{cluster.s3_endpoint}/moto-api/")  # the session's S3 never stopped
    assert returncode == 0, err
    assert "Traceback" not in err
    assert "warning: " in err and "to MLflow failed" in err, err
    assert (tmp_path / "models" / "model.npz").is_file()
    assert (tmp_path / "reports" / "history.csv").is_file()


def train_while_s3_stops(cluster, tmp_path: Path, small_csvs, s3_folder: Path) -> tuple[str, int]:
    """prepare, then train with ``cluster``'s server, stopping its S3 at epoch 1: train's
    stderr and exit status."""
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=3, experiment="s3-down")
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    env = client_env(cluster, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    assert run([sys.executable, "-m", "pipeline.stages.prepare"], env, cwd=tmp_path).returncode == 0
    train = subprocess.Popen(
        [sys.executable, "-m", "pipeline.stages.train"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert train.stdout is not None
        for line in train.stdout:
            if line.startswith("epoch  1/3") or line.startswith("epoch 1/3"):
                train.send_signal(signal.SIGSTOP)  # hold it while S3 goes away
                s3.stop(s3_folder)
                train.send_signal(signal.SIGCONT)
                break
        _, err = train.communicate(timeout=HANG_SECONDS)
    finally:
        train.kill()
    return err, train.returncode


def test_server_restarted_during_a_slurm_sweep(slurm_cluster, tmp_path, small_csvs, monkeypatch):
    """The tracking server stops while both jobs of a SLURM sweep train, and starts again (as
    an operator's restart does, on the same port). No job hangs; the sweep exits 0; every job
    writes its outputs; each run is complete (FINISHED, every epoch and the evaluation logged)
    or its job warned that it is incomplete. The server is the test's own, on the cluster's
    PostgreSQL and S3."""
    folder = tmp_path / "own-mlflow"
    pid = daemon.pid_of(Path(slurm_cluster.folder) / "mlflow", mlflow_server.NAME)
    with own_tracking_server(slurm_cluster, folder) as own:
        check_a_sweep_through_a_restart(own, folder, tmp_path, small_csvs, monkeypatch)
    # the session's server was neither stopped nor restarted
    assert daemon.pid_of(Path(slurm_cluster.folder) / "mlflow", mlflow_server.NAME) == pid
    assert daemon.http_ok(f"{slurm_cluster.tracking_uri}/health")


def check_a_sweep_through_a_restart(cluster, folder: Path, tmp_path, small_csvs, monkeypatch):
    from tests.cluster.test_slurm_sweep import SLURM, array_ids, wait_for

    experiment = f"restart-{secrets.token_hex(4)}"
    epochs = 300
    command = sweep_command(
        tmp_path, small_csvs, experiment, "optimizer.lr=0.01,0.02", f"train.epochs={epochs}",
        *SLURM, "hydra.launcher.timeout_min=10",
    )  # fmt: skip
    sweep = subprocess.Popen(
        command, env=client_env(cluster), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    client = mlflow_client(cluster, monkeypatch)
    port = int(cluster.tracking_uri.rsplit(":", 1)[1])
    store = cluster_postgres(cluster)

    def both_training() -> bool:
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found else []
        jobs = list(children_by_name(runs).values())
        return len(jobs) == 2 and all("train_loss" in job.data.metrics for job in jobs)

    try:
        wait_for(both_training, what="both jobs' training")
        mlflow_server.stop(folder)
        mlflow_server.start(folder, port, store, cluster.s3_endpoint)
        _, err = sweep.communicate(timeout=HANG_SECONDS)
    finally:
        sweep.kill()
        if not daemon.running(folder, mlflow_server.NAME):
            mlflow_server.start(folder, port, store, cluster.s3_endpoint)
    assert sweep.returncode == 0, err
    sweep_dir = tmp_path / "sweep"
    assert len(list(sweep_dir.glob("*/model.npz"))) == 2
    assert len(list(sweep_dir.glob("*/reports/metrics.json"))) == 2
    job_logs = "".join(
        (sweep_dir / ".submitit" / job / f"{job}_0_log.err").read_text()
        for job in array_ids(sweep_dir)
    )
    runs = experiment_runs(client, experiment)
    for job in children_by_name(runs).values():
        steps = {m.step for m in client.get_metric_history(job.info.run_id, "train_loss")}
        complete = (
            job.info.status == "FINISHED"
            and steps == set(range(1, epochs + 1))
            and "test_accuracy" in job.data.metrics
        )
        reported = f"MLflow run {job.info.run_id} is incomplete" in job_logs
        assert complete or reported, (job.info.status, len(steps), job_logs[-3000:])
