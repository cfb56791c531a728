"""The shared MLflow tracking server: MLflow's basic-auth app (every request needs a user and a
password), runs in PostgreSQL, artifacts in S3 proxied by the server (``--serve-artifacts``:
clients need no S3 credentials). The admin password is generated into a file with mode 600.

Start-up is dominated by Python imports: one uvicorn worker (MLflow's default is 4, each
importing MLflow again) and no job runner (MLflow would start a huey consumer with 5 workers
for features this project does not use)."""

import sys
from pathlib import Path

from pipeline.cluster import daemon, s3
from pipeline.cluster.postgres import Postgres
from pipeline.cluster.secrets import private_file, secret

NAME = "mlflow"
ADMIN = "admin"
ARTIFACTS = "s3://mlflow/artifacts"
# MLflow's own cache of verified logins (off by default): without it every request pays a
# scrypt password check, 0.3-0.4 s of the one worker's time here. With one worker, a password
# changed or a user deleted through the server's API takes effect at once; a change made
# behind its back (in auth.db) within this many seconds.
AUTH_CACHE_SECONDS = 60


def admin_password_file(folder: Path) -> Path:
    return folder / "secrets" / f"{ADMIN}.password"


def auth_config(folder: Path) -> Path:
    """The basic-auth app's ini file: authenticated users may read everything by default; the
    admin (whose password is in it, hence mode 600) grants more."""
    password = secret(admin_password_file(folder))
    text = (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        f"admin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n"
    )
    return private_file(folder / "basic_auth.ini", text)


def start(folder: Path, port: int, postgres: Postgres, s3_url: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **s3.client_env(),
        "MLFLOW_S3_ENDPOINT_URL": s3_url,
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_config(folder)),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret(folder / "secrets" / "flask.key"),
        "PGPASSFILE": str(postgres.pgpass),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    mlflow = Path(sys.executable).parent / "mlflow"
    daemon.spawn(
        NAME,
        [str(mlflow), "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--backend-store-uri", postgres.url("mlflow"),
         "--artifacts-destination", ARTIFACTS, "--serve-artifacts"],
        folder, env=env,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    daemon.wait_until(NAME, lambda: daemon.http_ok(f"{uri}/health"), folder, timeout=180, port=port)
    return uri


def stop(folder: Path) -> bool:
    return daemon.stop(folder, NAME)
