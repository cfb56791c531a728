"""An S3-compatible object store on loopback (moto's server mode), with the buckets the cluster
uses: ``mlflow`` (the tracking server's artifacts) and ``dvc`` (the DVC remote)."""

import os
import shutil
import sys
from pathlib import Path

from pipeline.cluster import daemon

NAME = "s3"
BUCKETS = ("mlflow", "dvc")

# moto accepts any keys; without some, botocore would look for credentials elsewhere, including
# a metadata service at a non-loopback address.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "local-cluster",
    "AWS_SECRET_ACCESS_KEY": "local-cluster",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def executable() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.is_file() else shutil.which("moto_server")


def start(folder: Path, port: int) -> str:
    program = executable()
    if program is None:
        raise daemon.ServiceError("s3: moto_server not installed (pip install -e '.[cluster]')")
    folder.mkdir(parents=True, exist_ok=True)
    daemon.spawn(NAME, [program, "-H", "127.0.0.1", "-p", str(port)], folder, env=client_env())
    url = endpoint(port)
    daemon.wait_until(NAME, lambda: daemon.http_ok(f"{url}/moto-api/"), folder, port=port)
    client = s3_client(url)
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    return url


def client_env() -> dict[str, str]:
    return {**os.environ, **CLIENT_ENV}


def s3_client(url: str):  # -> botocore S3 client; boto3 is slow to import
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=CLIENT_ENV["AWS_DEFAULT_REGION"],
    )


def stop(folder: Path) -> bool:
    return daemon.stop(folder, NAME)
