"""PostgreSQL takes passwords only (scram-sha-256), one role per purpose; every generated secret
is in a file only its owner reads, and no password is on any process's command line."""

import stat
import sys
from pathlib import Path

import pytest

from pipeline.cluster import services
from pipeline.config import compose, to_yaml
from tests.cluster.conftest import client_env, cluster_postgres, run
from tests.conftest import tiny_overrides


def pg_hba_methods(cluster: services.Cluster) -> dict[str, set[str]]:
    hba = Path(cluster.folder) / "postgres" / "data" / "pg_hba.conf"
    methods: dict[str, set[str]] = {}
    for line in hba.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            methods.setdefault(fields[0], set()).add(fields[-1])
    return methods


def test_tcp_logins_need_a_scram_password(cluster):
    assert pg_hba_methods(cluster) == {"local": {"peer"}, "host": {"scram-sha-256"}}


@pytest.mark.parametrize("role", ["mlflow", "optuna"])
def test_each_role_logs_in_with_its_password_file_only(cluster, role):
    import psycopg2

    port = cluster_postgres(cluster).port
    login = {"host": "127.0.0.1", "port": port, "user": role, "dbname": role}
    with psycopg2.connect(**login, passfile=cluster.pgpass) as connection:
        assert connection.info.user == role
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(**login, passfile="/dev/null")


def secret_files(folder: Path) -> list[Path]:
    named = [*folder.rglob("secrets/*"), *folder.rglob("pgpass"), *folder.rglob("*.ini")]
    return [*named, *folder.rglob("slurmdbd.conf"), *folder.rglob("munge.key")]


def test_secrets_are_owner_only_and_on_no_command_line(cluster):
    folder = Path(cluster.folder)
    files = secret_files(folder)
    assert len(files) >= 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    passwords = [p.read_text().strip() for p in folder.rglob("secrets/*")]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue  # the process has exited
        assert not any(password in text for password in passwords), cmdline


def test_unreachable_database_is_one_error_line_before_training(
    cluster, tmp_path, small_csvs, refused_port
):
    """A tracking store on a PostgreSQL that does not answer: the store's own one-line error."""
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=1, experiment="pg-down")
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    uri = f"postgresql+psycopg2://mlflow@127.0.0.1:{refused_port}/mlflow"
    env = client_env(cluster, MLFLOW_TRACKING_URI=uri)
    assert run([sys.executable, "-m", "pipeline.stages.prepare"], env, cwd=tmp_path).returncode == 0
    result = run([sys.executable, "-m", "pipeline.stages.train"], env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "epoch" not in result.stdout and not (tmp_path / "models" / "model.npz").exists()
