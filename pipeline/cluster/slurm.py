"""A one-node SLURM cluster on loopback, with accounting (``sacct``): a private ``munged``, MariaDB
for ``slurmdbd``, then ``slurmdbd``, ``slurmctld`` and ``slurmd``, each with its own port.
Clients find it through ``SLURM_CONF``. No cgroups (``proctrack/linuxproc``, ``task/none``):
it runs in containers and VMs as they come. The daemons run as the user who starts them
(``slurmd`` must be root to run jobs as their submitter)."""

import getpass
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.cluster import daemon
from pipeline.cluster.secrets import private_file, secret

CLUSTER = "neuralscratch"
PARTITION = "debug"
DAEMONS = ("munged", "mariadb", "slurmdbd", "slurmctld", "slurmd")
PROGRAMS = ("munged", "mungekey", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld",
            "slurmd", "sbatch", "sacct")  # fmt: skip


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if program(name) is None]


def program(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.is_file()), None
    )


@dataclass(frozen=True)
class Ports:
    mariadb: int
    slurmdbd: int
    slurmctld: int
    slurmd: int


def client_env(folder: Path) -> dict[str, str]:
    return {"SLURM_CONF": str(folder / "slurm.conf")}


def slurm_conf(folder: Path, ports: Ports) -> str:
    user = getpass.getuser()
    cpus = os.cpu_count() or 1
    return f"""\
ClusterName={CLUSTER}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ports.slurmctld}
SlurmdPort={ports.slurmd}
SlurmUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder / "munge" / "munge.sock"}
StateSaveLocation={folder / "state"}
SlurmdSpoolDir={folder / "spool"}
SlurmctldPidFile={folder / "slurmctld.internal.pid"}
SlurmdPidFile={folder / "slurmd.internal.pid"}
SlurmctldLogFile={folder / "slurmctld.log"}
SlurmdLogFile={folder / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports.slurmdbd}
AccountingStoragePass={folder / "munge" / "munge.sock"}
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
# at a time limit or scancel: SIGTERM, and SIGKILL this many seconds later; a training needs
# them to end its MLflow run KILLED on a loaded server
KillWait=20
MinJobAge=3600
SchedulerParameters=sched_interval=1
# listen on the addresses above (127.0.0.1), not on every interface
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def slurmdbd_conf(folder: Path, ports: Ports, password: str) -> str:
    return f"""\
AuthType=auth/munge
AuthInfo=socket={folder / "munge" / "munge.sock"}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports.slurmdbd}
CommunicationParameters=NoInAddrAny
SlurmUser={getpass.getuser()}
LogFile={folder / "slurmdbd.log"}
PidFile={folder / "slurmdbd.internal.pid"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports.mariadb}
StorageUser=slurm
StoragePass={password}
StorageLoc=slurm_acct_db
"""


def start_munge(folder: Path) -> None:
    munge = folder / "munge"
    munge.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = munge / "munge.key"
    if not key.is_file():
        subprocess.run([program("mungekey"), "--create", f"--keyfile={key}"], check=True)
    daemon.spawn(
        "munged",
        [program("munged"), "--foreground", "--force", f"--socket={munge / 'munge.sock'}",
         f"--key-file={key}", f"--pid-file={munge / 'munged.internal.pid'}",
         f"--seed-file={munge / 'munged.seed'}", f"--log-file={munge / 'munged.internal.log'}"],
        folder,
    )  # fmt: skip
    daemon.wait_until("munged", (munge / "munge.sock").exists, folder)


def start_mariadb(folder: Path, port: int) -> str:
    """MariaDB for accounting; returns the password of its ``slurm`` user (mode 600 file)."""
    data, socket = folder / "mariadb", folder / "mariadb.sock"
    fresh = not (data / "mysql").is_dir()
    user = getpass.getuser()
    if fresh:
        subprocess.run(
            [program("mariadb-install-db"), f"--datadir={data}", f"--user={user}",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            check=True, capture_output=True,
        )  # fmt: skip
    daemon.spawn(
        "mariadb",
        [program("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={socket}",
         f"--port={port}", "--bind-address=127.0.0.1", f"--user={user}",
         f"--pid-file={folder / 'mariadb.internal.pid'}", "--skip-log-bin",
         "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0"],
        folder,
    )  # fmt: skip
    daemon.wait_until("mariadb", lambda: daemon.port_open(port), folder, port=port)
    password = secret(folder / "secrets" / "mariadb-slurm.password")
    if fresh:
        sql = (
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';\n"
        )
        client = shutil.which("mariadb") or "mysql"
        subprocess.run(
            [client, "--no-defaults", f"--socket={socket}", "-u", "root"],
            input=sql, text=True, check=True, capture_output=True,
        )  # fmt: skip
    return password


def start(folder: Path, ports: Ports) -> dict[str, str]:
    """Start every daemon, in order; returns the environment a client needs."""
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    start_munge(folder)
    password = start_mariadb(folder, ports.mariadb)
    (folder / "slurm.conf").write_text(slurm_conf(folder, ports))
    private_file(folder / "slurmdbd.conf", slurmdbd_conf(folder, ports, password))
    env = {**os.environ, **client_env(folder)}
    daemon.spawn("slurmdbd", [program("slurmdbd"), "-D"], folder, env=env)
    daemon.wait_until(
        "slurmdbd", lambda: daemon.port_open(ports.slurmdbd), folder, port=ports.slurmdbd
    )
    daemon.spawn("slurmctld", [program("slurmctld"), "-D", "-i"], folder, env=env)
    daemon.wait_until(
        "slurmctld", lambda: daemon.port_open(ports.slurmctld), folder, port=ports.slurmctld
    )
    daemon.spawn("slurmd", [program("slurmd"), "-D", "-N", "localhost"], folder, env=env)
    daemon.wait_until("slurmd", lambda: node_idle(env), folder, timeout=60)
    return client_env(folder)


def node_idle(env: dict[str, str]) -> bool:
    result = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True, check=False
    )
    state = result.stdout.strip()
    if state.startswith(("idle", "mix", "alloc")):
        return True
    time.sleep(0.2)
    return False


def cancel_jobs(folder: Path, timeout: float = 20) -> None:
    """Cancel every job of this cluster and wait for them to end: without cgroups, a job's
    processes would outlive ``slurmd``."""
    env = {**os.environ, **client_env(folder)}
    if not daemon.running(folder, "slurmctld"):
        return
    subprocess.run(["scancel", "--full", f"--user={getpass.getuser()}"], env=env, check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True, check=False
        )
        if queue.returncode != 0 or not queue.stdout.strip():
            return
        time.sleep(0.5)


def stop(folder: Path) -> list[str]:
    """Cancel the jobs, then stop the daemons in reverse order; returns the names of those
    that were running."""
    cancel_jobs(folder)
    return [name for name in reversed(DAEMONS) if daemon.stop(folder, name)]
