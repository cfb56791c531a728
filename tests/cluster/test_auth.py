"""The cluster's MLflow server admits only its users: anonymous requests get 401, a user with
read permission cannot create runs, and the pipeline's clients log in through the environment
or the URI and never print the password."""

import configparser
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.config import compose, to_yaml, validate
from pipeline.stages.prepare import prepare
from tests.cluster.conftest import client_env, mlflow_client, run
from tests.conftest import tiny_overrides


def test_anonymous_request_gets_401_and_health_stays_open(cluster):
    search = f"{cluster.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(search, timeout=10)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{cluster.tracking_uri}/health", timeout=10) as health:
        assert health.status == 200


def test_read_only_user_cannot_create_runs(cluster, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    admin = mlflow_client(cluster, monkeypatch)
    experiment_id = admin.create_experiment(f"read-only-{secrets.token_hex(4)}")
    reader, password = f"reader-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    AuthServiceClient(cluster.tracking_uri).create_user(reader, password)

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", reader)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    client = MlflowClient(cluster.tracking_uri)
    assert client.get_experiment(experiment_id).experiment_id == experiment_id  # may read
    with pytest.raises(MlflowException, match=r"PERMISSION_DENIED|403|[Pp]ermission"):
        client.create_run(experiment_id)


def test_logins_are_cached_yet_a_changed_password_counts_at_once(cluster, monkeypatch):
    """The server caches verified logins (``auth_cache_ttl_seconds``): a password changed
    through its API is refused at once all the same, and the new one admitted."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    ini = configparser.ConfigParser()
    ini.read(Path(cluster.folder) / "mlflow" / "basic_auth.ini")
    assert ini.getint("mlflow", "auth_cache_ttl_seconds") == 60  # the README's 60 s
    mlflow_client(cluster, monkeypatch)  # logged in as the admin, to manage users
    user, old, new = f"cached-{secrets.token_hex(4)}", *(secrets.token_urlsafe(16) for _ in "ab")
    AuthServiceClient(cluster.tracking_uri).create_user(user, old)

    def search_as(password: str) -> None:
        with monkeypatch.context() as login:
            login.setenv("MLFLOW_TRACKING_USERNAME", user)
            login.setenv("MLFLOW_TRACKING_PASSWORD", password)
            login.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            MlflowClient(cluster.tracking_uri).search_experiments(max_results=1)

    search_as(old)
    search_as(old)  # now from the cache
    AuthServiceClient(cluster.tracking_uri).update_user_password(user, new)
    with pytest.raises(MlflowException, match=r"401|UNAUTHORIZED|[Cc]redentials"):
        search_as(old)
    search_as(new)


@pytest.fixture
def prepared(tmp_path, small_csvs):
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=1, experiment="auth")
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    prepare(validate(compose(overrides)))
    return tmp_path


def train(folder, env):
    return run([sys.executable, "-m", "pipeline.stages.train"], env, cwd=folder)


def test_train_logs_in_with_credentials_in_the_uri(cluster, prepared):
    password = cluster.tracking_password
    uri = cluster.tracking_uri.replace("http://", f"http://{cluster.tracking_username}:{password}@")
    env = client_env(
        cluster, MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_USERNAME=None,
        MLFLOW_TRACKING_PASSWORD=None,
    )  # fmt: skip
    result = train(prepared, env)
    assert result.returncode == 0, result.stderr
    # (MLflow's own 'View run at' link on stdout repeats the URI as given)
    assert password not in result.stderr
    assert (prepared / "models" / "model.npz").is_file()


@pytest.mark.parametrize("login", ["none", "wrong password in the uri"])
def test_refused_login_is_one_error_line_before_training(cluster, prepared, login):
    wrong = secrets.token_urlsafe(12)
    uri = cluster.tracking_uri
    if login != "none":
        uri = uri.replace("http://", f"http://{cluster.tracking_username}:{wrong}@")
    env = client_env(
        cluster, MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_USERNAME=None,
        MLFLOW_TRACKING_PASSWORD=None,
    )  # fmt: skip
    result = train(prepared, env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the MLflow tracking server"), lines
    assert "refused this client (401" in lines[0]
    assert wrong not in result.stderr and cluster.tracking_password not in result.stderr
    assert "epoch" not in result.stdout and not (prepared / "models" / "model.npz").exists()
