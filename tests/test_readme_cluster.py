"""docs/sweeps.md, "A local cluster: `make cluster`": how `pipeline.cluster` configures its
services, checked on the commands and files it makes (the running cluster itself is
tests/cluster/'s, which takes minutes to start)."""

import configparser
import importlib.util
import json
import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.security import generate_password_hash

from pipeline.cluster import __main__ as cluster_cli
from pipeline.cluster import daemon, mlflow_server, services, slurm
from pipeline.config import PROJECT_ROOT
from tests.guides import page, prose, section

SWEEPS = prose("sweeps.md")


def test_the_mlflow_server_runs_one_worker_and_no_job_runner(tmp_path, monkeypatch):
    """docs/sweeps.md: "`pipeline.cluster` runs one worker (MLflow's default is 4 ...) and no job
    runner (`MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`)"; basic auth, artifacts proxied to S3, on
    127.0.0.1; its secrets in owner-only files, none on the command line."""
    started = {}

    def spawn(name, command, folder, env=None, **kwargs):
        started.update(name=name, command=command, env=env)

    monkeypatch.setattr(daemon, "spawn", spawn)
    monkeypatch.setattr(daemon, "wait_until", lambda *args, **kwargs: None)
    postgres = SimpleNamespace(
        url=lambda db: f"postgresql+psycopg2://{db}@127.0.0.1:5432/{db}",
        pgpass=tmp_path / "pgpass",
    )
    uri = mlflow_server.start(tmp_path / "mlflow", 5123, postgres, "http://127.0.0.1:9000")
    assert uri == "http://127.0.0.1:5123"
    command = started["command"]
    assert command[1] == "server" and Path(command[0]).name == "mlflow"

    def option(name: str) -> str:
        return command[command.index(name) + 1]

    assert option("--workers") == "1" and option("--host") == "127.0.0.1"
    assert option("--app-name") == "basic-auth" and "--serve-artifacts" in command
    assert option("--artifacts-destination").startswith("s3://mlflow/")
    assert started["env"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    password_file = Path(started["env"]["MLFLOW_AUTH_CONFIG_PATH"])
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    admin_password = re.search(r"admin_password = (\S+)", password_file.read_text())[1]
    assert not any(admin_password in part for part in command)  # `ps` shows no password
    assert "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false" in SWEEPS


def test_slurm_conf_gives_20_s_between_sigterm_and_sigkill(tmp_path):
    """docs/sweeps.md: "SIGKILL `KillWait` seconds later (20 s in `make cluster`'s `slurm.conf`)";
    one node with this machine's cores, partition `debug`, slurmdbd accounting, no cgroups."""
    ports = slurm.Ports(mariadb=1, slurmdbd=2, slurmctld=3, slurmd=4)
    conf = dict(
        line.split("=", 1)
        for line in slurm.slurm_conf(tmp_path, ports).splitlines()
        if "=" in line and not line.startswith("#") and not line.startswith(("NodeName", "Part"))
    )
    assert conf["KillWait"] == "20" and "20 s in `make cluster`'s `slurm.conf`" in SWEEPS
    assert conf["ProctrackType"] == "proctrack/linuxproc" and conf["TaskPlugin"] == "task/none"
    assert conf["AccountingStorageType"] == "accounting_storage/slurmdbd"
    text = slurm.slurm_conf(tmp_path, ports)
    assert f"CPUs={os.cpu_count()}" in text
    assert re.search(r"^PartitionName=debug Nodes=localhost Default=YES", text, re.MULTILINE)


def test_without_slurm_the_rest_starts_and_the_start_line_says_so(tmp_path, monkeypatch):
    """docs/sweeps.md: "without SLURM the rest starts and says so"; `make cluster` prints how long
    each service took to start (`started in: s3 4.1 s, postgres 4.8 s, ...`) and keeps the seconds
    in `.cluster/cluster.json`. The services' own start is stubbed: what is checked is which are
    started, and what is printed and kept."""
    postgres = SimpleNamespace(url=lambda db: f"postgresql://{db}@127.0.0.1:1/{db}", pgpass="p")
    monkeypatch.setattr(services.s3, "start", lambda folder, port: "http://127.0.0.1:2")
    monkeypatch.setattr(services.postgres, "start", lambda folder, port: postgres)
    monkeypatch.setattr(mlflow_server, "start", lambda *args: "http://127.0.0.1:3")
    monkeypatch.setattr(slurm, "program", lambda name: None if name == "slurmctld" else name)
    monkeypatch.setattr(slurm, "start", lambda *args: pytest.fail("SLURM started"))
    cluster = services.start(tmp_path / ".cluster")
    assert cluster.slurm_conf is None and list(cluster.startup_seconds) == [
        "s3",
        "postgres",
        "mlflow",
    ]
    kept = json.loads((tmp_path / ".cluster" / "cluster.json").read_text())
    assert "keeps the seconds in `.cluster/cluster.json` (`startup_seconds`)" in SWEEPS
    assert kept["startup_seconds"] == cluster.startup_seconds
    printed = cluster_cli.usage(cluster, tmp_path / ".cluster")
    (started,) = re.findall(r"\(started in: (.*)\)\n", printed)
    assert re.fullmatch(r"s3 [\d.]+ s, postgres [\d.]+ s, mlflow [\d.]+ s", started)
    assert "  SLURM: not started (slurmctld missing)\n" in printed
    (readme,) = re.findall(r"\(started in: (s3 [\d.]+ s, postgres [\d.]+ s, mlflow .*?)\)", SWEEPS)
    assert re.fullmatch(r"s3 [\d.]+ s, postgres [\d.]+ s, mlflow [\d.]+ s, slurm [\d.]+ s", readme)
    assert "they are missing; without SLURM the rest starts and says so)" in SWEEPS


def test_mlflows_login_cache_is_off_by_default_and_passwords_are_scrypt_hashes():
    """docs/sweeps.md: "verified logins cached for 60 s (MLflow's `auth_cache_ttl_seconds`, off by
    default: without it every request pays a scrypt password check)" (MLflow as locked, read
    from its files rather than imported with its server; the 60 s are
    tests/cluster/test_auth.py's)."""
    auth = Path(importlib.util.find_spec("mlflow").origin).parent / "server" / "auth"
    defaults = configparser.ConfigParser()
    defaults.read(auth / "basic_auth.ini")
    assert not defaults.has_option("mlflow", "auth_cache_ttl_seconds")
    assert '"auth_cache_ttl_seconds", fallback=0)' in (auth / "config.py").read_text()
    store = (auth / "sqlalchemy_store.py").read_text()
    assert "from werkzeug.security import check_password_hash, generate_password_hash" in store
    assert generate_password_hash("a password").startswith("scrypt:")
    assert "off by default: without it every request pays a scrypt password check)" in SWEEPS


def test_dvc_remote_credentials_go_to_the_local_config_never_the_committed_one(monkeypatch):
    """docs/sweeps.md, "A DVC remote": `make cluster` sets its remote in `.dvc/config.local`
    (git-ignored), and credentials are "never in the repository": the committed `.dvc/config`
    holds none, and every setting `make cluster` makes is `--local`."""
    committed = (PROJECT_ROOT / ".dvc" / "config").read_text()
    assert not re.search(r"access_key|secret|password|token", committed)
    made = []
    monkeypatch.setattr(cluster_cli.subprocess, "run", lambda command, **kw: made.append(command))
    cluster = SimpleNamespace(s3_endpoint="http://127.0.0.1:9")
    cluster_cli.configure_dvc_remote(cluster, PROJECT_ROOT)
    assert any("secret_access_key" in command for command in made)
    assert all(command[3] == "remote" and "--local" in command for command in made)
    assert "/config.local" in (PROJECT_ROOT / ".dvc" / ".gitignore").read_text().split()


def test_the_real_cluster_advice_names_settings_that_exist():
    """docs/sweeps.md, "What changes on a real cluster": every launcher key it names is one of
    Hydra's submitit SLURM launcher, and the server option it names is one of `mlflow server`."""
    import dataclasses

    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
    from mlflow.cli import server

    advice = section(page("sweeps.md"), "### What changes on a real cluster")
    resources = advice.split("**Partition and resources**", 1)[1].split("\n- ", 1)[0]
    named = {
        re.sub(r"^hydra\.launcher\.|=.*$", "", key) for key in re.findall(r"`([^`]+)`", resources)
    }
    assert {"partition", "timeout_min", "cpus_per_task", "mem_gb", "array_parallelism"} <= named
    launcher_keys = {field.name for field in dataclasses.fields(SlurmQueueConf)}
    assert named <= launcher_keys, named - launcher_keys
    options = {option for parameter in server.params for option in parameter.opts}
    for option in re.findall(r"`(--[\w-]+)", advice):
        assert option in options, option
    assert "--allowed-hosts" in advice and "--host" in advice
