"""Secrets in URIs, command lines and messages become ``***``; everything else stays."""

import json
import os
import subprocess
import sys

import pytest

from pipeline.config import compose, to_yaml
from pipeline.tracking.redact import redact_command, redact_text, redact_uri
from tests.conftest import tiny_overrides

SECRET = "pl4nted-s3cret"


@pytest.mark.parametrize(
    ("uri", "redacted"),
    [
        (f"http://alice:{SECRET}@127.0.0.1:5000", "http://***@127.0.0.1:5000"),
        (f"postgresql://mlflow:{SECRET}@db:5432/mlflow", "postgresql://***@db:5432/mlflow"),
        (f"https://{SECRET}@host/path", "https://***@host/path"),
        (
            f"s3://bucket/x?X-Amz-Signature={SECRET}&region=eu",
            "s3://bucket/x?X-Amz-Signature=***&region=eu",
        ),
        (f"http://h:1/?token={SECRET}", "http://h:1/?token=***"),
    ],
)
def test_uri_secrets_are_masked(uri, redacted):
    assert redact_uri(uri) == redacted


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:5000", "sqlite:////work/p/mlflow.db", "http://h/x?page=2", "file:x"]
)
def test_uris_without_secrets_are_unchanged(uri):
    assert redact_uri(uri) == uri


def test_messages_lose_the_secrets_of_the_urls_they_quote():
    message = f"API request to http://alice:{SECRET}@h:5000/api/2.0/x failed: 401 != 200"
    assert redact_text(message) == "API request to http://***@h:5000/api/2.0/x failed: 401 != 200"


def test_command_lines_lose_secret_options_and_pairs_and_keep_the_rest():
    argv = [
        "-m",
        "optimizer.lr=0.01,0.1",
        "--password",
        SECRET,
        f"--token={SECRET}",
        f"AWS_SECRET_ACCESS_KEY={SECRET}",
        f"+db.password={SECRET}",
        f"tracking.uri=http://bob:{SECRET}@h:5000",
        "train.epochs=3",
    ]
    masked = redact_command(argv)
    assert SECRET not in " ".join(masked)
    assert masked == [
        "-m",
        "optimizer.lr=0.01,0.1",
        "--password",
        "***",
        "--token=***",
        "AWS_SECRET_ACCESS_KEY=***",
        "+db.password=***",
        "tracking.uri=http://***@h:5000",
        "train.epochs=3",
    ]


def test_a_failing_run_never_prints_or_writes_the_password(tmp_path, small_csvs, refused_port):
    """A tracking server that does not answer, its password in the URI: the one error line
    names the server without the password, and nothing is written."""
    overrides = tiny_overrides(tmp_path, small_csvs)
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    uri = f"http://alice:{SECRET}@127.0.0.1:{refused_port}"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_PASSWORD": SECRET}
    command = [sys.executable, "-m", "pipeline.stages.train"]
    result = subprocess.run(
        command, cwd=tmp_path, env=env | _base_env(), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the MLflow tracking server at http://***@")
    assert SECRET not in result.stdout + result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".csv"]
    assert all(SECRET not in p.read_text(errors="replace") for p in written)
    assert not (tmp_path / "reports" / "run.json").exists()


def _base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}


def test_run_file_records_the_store_as_meaningful_elsewhere(tmp_path):
    from pipeline.tracking.mlflow_runs import STORE_FILE, store_root, where

    assert where(f"sqlite:///{store_root() / STORE_FILE}") == "the project's local store"
    assert where(f"http://u:{SECRET}@h:1") == "http://***@h:1"
    assert json.dumps(where(f"postgresql://u:{SECRET}@db/m")).count("***") == 1


def test_mlflow_never_prints_a_token_in_the_user_part_of_the_uri(
    mlflow_server, monkeypatch, capsys
):
    """``https://<token>@host``: no password, yet the user part is the secret; MLflow's run links
    on stdout (``View run ... at: <uri>/#/...``) would repeat it."""
    from pipeline.tracking.mlflow_runs import client_for

    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")  # restored after
    uri = mlflow_server.uri.replace("http://", f"http://{SECRET}@")
    client = client_for(uri)
    run = client.create_run(client.create_experiment("token-in-uri"))
    client.set_terminated(run.info.run_id)
    printed = capsys.readouterr()
    assert client.get_run(run.info.run_id).info.status == "FINISHED"  # the token did its job
    assert SECRET not in printed.out + printed.err
