"""A planted secret is written down nowhere. A user of the cluster's server whose password is
the secret runs, as a new user would, `dvc repro` (train and evaluate, logged in through the
URI: ``http://user:<secret>@host``), then with MLFLOW_TRACKING_USERNAME/PASSWORD a sweep whose
overrides carry a second secret (``++hydra.job.env_set.NEURALSCRATCH_API_TOKEN=<secret>``) and
one of whose jobs diverges (a FAILED run), compare, register, and predict from
``models:/neuralscratch@champion``. Then neither secret (nor the Basic-auth header made of the
password) is in any file of the project, the git diff, any command's stdout or stderr, the
server's log, a dump of the server's PostgreSQL database, or any object in the S3 buckets."""

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from pipeline.cluster import postgres, s3, services
from tests.cluster.conftest import HANG_SECONDS, client_env, cluster_postgres, mlflow_client
from tests.conftest import write_digits_csv
from tests.test_dvc_pipeline import TINY_EXPERIMENT, project  # noqa: F401 (a fixture)


def call(command: list[str], cwd: Path, env: dict[str, str], outputs: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=HANG_SECONDS
    )
    name = " ".join(command[:4])
    outputs[f"stdout of {name}"], outputs[f"stderr of {name}"] = result.stdout, result.stderr
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def database_dump(cluster: services.Cluster) -> str:
    bin_dir = postgres.binaries()
    assert bin_dir is not None
    port = str(cluster_postgres(cluster).port)
    return subprocess.run(
        [bin_dir / "pg_dump", "-h", "127.0.0.1", "-p", port, "-U", "mlflow", "-d", "mlflow"],
        env={**os.environ, "PGPASSFILE": cluster.pgpass}, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip


def bucket_objects(cluster: services.Cluster) -> dict[str, bytes]:
    client = s3.s3_client(cluster.s3_endpoint)
    objects = {}
    for bucket in s3.BUCKETS:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                objects[f"s3://{bucket}/{item['Key']}"] = body
    return objects


def test_a_planted_secret_is_written_nowhere(cluster, project, monkeypatch):  # noqa: F811
    from mlflow.server.auth.client import AuthServiceClient

    password, token = (f"planted-{secrets.token_urlsafe(18)}" for _ in range(2))
    user, experiment = f"planted-{secrets.token_hex(4)}", f"planted-{secrets.token_hex(4)}"
    admin = mlflow_client(cluster, monkeypatch)
    AuthServiceClient(cluster.tracking_uri).create_user(user, password)
    tools = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    in_uri = client_env(
        cluster, MLFLOW_TRACKING_URI=cluster.tracking_uri.replace("http://", f"http://{user}:{password}@"),
        MLFLOW_TRACKING_USERNAME=None, MLFLOW_TRACKING_PASSWORD=None, DVC_NO_ANALYTICS="1", **tools,
    )  # fmt: skip
    logged_in = client_env(
        cluster, MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password, **tools
    )
    write_digits_csv(project / "small" / "train.csv", 300, seed=1)
    write_digits_csv(project / "small" / "test.csv", 100, seed=2)
    (project / "conf" / "experiment" / "tiny.yaml").write_text(TINY_EXPERIMENT)
    outputs: dict[str, str] = {}
    python = [sys.executable, "-m"]
    settings = ["experiment=tiny", f"tracking.experiment={experiment}"]
    call([*python, "pipeline.tools.params", *settings], project, in_uri, outputs)
    call(["dvc", "repro", "evaluate"], project, in_uri, outputs)
    sweep = [*python, "pipeline.tools.sweep", "-m", *settings, "optimizer=sgd"]
    secret_override = f"++hydra.job.env_set.NEURALSCRATCH_API_TOKEN={token}"
    call([*sweep, "optimizer.lr=0.05,1e30", secret_override], project, logged_in, outputs)
    compared = call([*python, "pipeline.tools.compare"], project, logged_in, outputs)
    registered = call([*python, "pipeline.tools.register", "--sweep"], project, logged_in, outputs)
    predict = ["--csv", "small/test.csv", "--model", "models:/neuralscratch@champion"]
    predicted = call(
        [*python, "pipeline.stages.predict", *predict, "--output", "sub.csv"], project, logged_in,
        outputs,
    )  # fmt: skip

    # it all happened: the runs, the failed one, the model version, the predictions
    run_id = json.loads((project / "reports" / "run.json").read_text())["run_id"]
    statuses = sorted(r.info.status for r in admin.search_runs([
        admin.get_experiment_by_name(experiment).experiment_id
    ]))  # fmt: skip
    assert statuses == ["FAILED", "FAILED", "FINISHED", "FINISHED"], statuses  # + the parent
    assert "optimizer.lr=1e+30" in compared and "FAILED" in compared, compared
    assert "registered run" in registered and "neuralscratch version" in registered, registered
    assert "100 images" in predicted and (project / "sub.csv").is_file(), predicted
    dump = database_dump(cluster)
    objects = bucket_objects(cluster)
    assert run_id in dump and any(run_id in key for key in objects)

    header = base64.b64encode(f"{user}:{password}".encode()).decode()
    needles = {"the password": password, "the token": token, "the login header": header}
    git_diff = subprocess.run(
        ["git", "diff", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    texts = {
        **outputs,
        "git diff": git_diff,
        "the database": dump,
        "the server's log": (Path(cluster.folder) / "mlflow" / "mlflow.log").read_text(),
    }
    blobs = {
        str(p): p.read_bytes() for p in project.rglob("*") if p.is_file() and not p.is_symlink()
    }
    blobs |= objects
    hits = [
        f"{what} in {where}"
        for what, needle in needles.items()
        for where, text in texts.items()
        if needle in text
    ] + [
        f"{what} in {where}"
        for what, needle in needles.items()
        for where, blob in blobs.items()
        if needle.encode() in blob
    ]
    assert hits == []
