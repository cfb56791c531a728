"""Every daemon the cluster starts listens on 127.0.0.1 only, never on all interfaces."""

from pathlib import Path

import psutil

from pipeline.cluster import services

# SLURM's three daemons, PostgreSQL, MariaDB, the S3 server and the MLflow server (munged
# answers on a Unix socket only)
LISTENERS = {"slurmctld", "slurmd", "slurmdbd", "postgres", "mariadb", "s3", "mlflow"}


def listening_addresses(pid: int) -> set[str]:
    """The TCP addresses a process and its children listen on."""
    process = psutil.Process(pid)
    addresses = set()
    for each in [process, *process.children(recursive=True)]:
        for connection in each.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.add(connection.laddr.ip)
    return addresses


def test_every_daemon_listens_on_loopback_only(cluster: services.Cluster):
    pid_files = [p for p in Path(cluster.folder).rglob("*.pid") if p.parent.name != "data"]
    by_daemon = {
        p.stem: listening_addresses(int(p.read_text()))
        for p in pid_files
        if not p.stem.endswith(".internal")
    }
    expected = (
        LISTENERS
        if cluster.slurm_conf
        else LISTENERS - {"slurmctld", "slurmd", "slurmdbd", "mariadb"}
    )
    assert expected <= {name for name, addresses in by_daemon.items() if addresses}, by_daemon
    assert {
        name: addresses for name, addresses in by_daemon.items() if addresses - {"127.0.0.1"}
    } == {}
