"""README, "A local cluster: `make cluster`": how `pipeline.cluster` configures its services,
checked on the commands and files it makes (the running cluster itself is tests/cluster/'s,
which takes minutes to start)."""

import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace

from pipeline.cluster import daemon, mlflow_server, slurm
from pipeline.config import PROJECT_ROOT

README = " ".join((PROJECT_ROOT / "README.md").read_text().split())


def test_the_mlflow_server_runs_one_worker_and_no_job_runner(tmp_path, monkeypatch):
    """README: "`pipeline.cluster` runs one worker (MLflow's default is 4 ...) and no job runner
    (`MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`)"; basic auth, artifacts proxied to S3, on
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
    assert "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false" in README


def test_slurm_conf_gives_20_s_between_sigterm_and_sigkill(tmp_path):
    """README: "SIGKILL `KillWait` seconds later (20 s in `make cluster`'s `slurm.conf`)"; one node
    with this machine's cores, partition `debug`, slurmdbd accounting, no cgroups."""
    ports = slurm.Ports(mariadb=1, slurmdbd=2, slurmctld=3, slurmd=4)
    conf = dict(
        line.split("=", 1)
        for line in slurm.slurm_conf(tmp_path, ports).splitlines()
        if "=" in line and not line.startswith("#") and not line.startswith(("NodeName", "Part"))
    )
    assert conf["KillWait"] == "20" and "20 s in `make cluster`'s `slurm.conf`" in README
    assert conf["ProctrackType"] == "proctrack/linuxproc" and conf["TaskPlugin"] == "task/none"
    assert conf["AccountingStorageType"] == "accounting_storage/slurmdbd"
    text = slurm.slurm_conf(tmp_path, ports)
    assert f"CPUs={os.cpu_count()}" in text
    assert re.search(r"^PartitionName=debug Nodes=localhost Default=YES", text, re.MULTILINE)
