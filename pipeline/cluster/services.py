"""Start, describe and stop the whole cluster in one state folder."""

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TypeVar

from pipeline.cluster import daemon, mlflow_server, postgres, s3, slurm
from pipeline.io import write_json

STATE_FILE = "cluster.json"


@dataclass(frozen=True)
class Cluster:
    """Where each service answers. No secret in here: only the files that hold them."""

    folder: str
    tracking_uri: str
    tracking_username: str
    tracking_password_file: str
    s3_endpoint: str
    pgpass: str
    optuna_storage: str
    slurm_conf: str | None  # None: SLURM is not installed here
    startup_seconds: dict[str, float]

    @property
    def tracking_password(self) -> str:
        return Path(self.tracking_password_file).read_text().strip()

    def client_env(self) -> dict[str, str]:
        """What a client (a training, a sweep, dvc, sbatch) needs in its environment."""
        env = {
            **s3.CLIENT_ENV,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_TRACKING_USERNAME": self.tracking_username,
            "MLFLOW_TRACKING_PASSWORD": self.tracking_password,
            "PGPASSFILE": self.pgpass,
        }
        return env | ({"SLURM_CONF": self.slurm_conf} if self.slurm_conf else {})

    def shell_exports(self) -> str:
        """``export`` lines for a shell; the password is read from its file, not printed."""
        env = {key: value for key, value in self.client_env().items() if "PASSWORD" not in key}
        lines = [f"export {key}={value}" for key, value in env.items()]
        lines.append(f'export MLFLOW_TRACKING_PASSWORD="$(cat {self.tracking_password_file})"')
        return "\n".join(lines)


def load(folder: Path) -> Cluster | None:
    path = folder / STATE_FILE
    return Cluster(**json.loads(path.read_text())) if path.is_file() else None


PORT_ATTEMPTS = 3
T = TypeVar("T")


def on_free_ports(
    start: Callable[..., T], stop: Callable[[Path], object], folder: Path, count: int = 1
) -> T:
    """``start(*ports)`` on ``count`` ports the kernel picked. If another program took one
    between the pick and the service's start (``PortTaken``), ``stop(folder)`` what started and
    try other ports; state this start made is removed first (the next try would take it as set
    up), state an earlier start left (a user's runs) never is."""
    made_here = not folder.exists()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return start(*(daemon.free_port() for _ in range(count)))
        except daemon.PortTaken:
            stop(folder)
            if made_here:
                shutil.rmtree(folder, ignore_errors=True)
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError(PORT_ATTEMPTS)  # the loop returns or raises


def start(folder: Path, with_slurm: bool | None = None) -> Cluster:
    """Start every service (SLURM only where it is installed, unless ``with_slurm``)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)  # PostgreSQL's account enters it; nobody else lists it
    if with_slurm is None:
        with_slurm = not slurm.missing_programs()
    seconds: dict[str, float] = {}

    def timed(name: str, step):
        began = time.monotonic()
        result = step()
        seconds[name] = round(time.monotonic() - began, 1)
        return result

    def started(name: str, start: Callable[..., T], stop: Callable[[Path], object], count: int = 1):
        return timed(name, lambda: on_free_ports(start, stop, folder / name, count))

    try:
        s3_url = started("s3", lambda port: s3.start(folder / "s3", port), s3.stop)
        pg = started(
            "postgres", lambda port: postgres.start(folder / "postgres", port), postgres.stop
        )
        uri = started(
            "mlflow",
            lambda port: mlflow_server.start(folder / "mlflow", port, pg, s3_url),
            mlflow_server.stop,
        )
        slurm_conf = None
        if with_slurm:
            slurm_env = started(
                "slurm",
                lambda *ports: slurm.start(folder / "slurm", slurm.Ports(*ports)),
                slurm.stop,
                len(fields(slurm.Ports)),
            )
            slurm_conf = slurm_env["SLURM_CONF"]
    except BaseException:
        stop(folder)
        raise
    cluster = Cluster(
        folder=str(folder),
        tracking_uri=uri,
        tracking_username=mlflow_server.ADMIN,
        tracking_password_file=str(mlflow_server.admin_password_file(folder / "mlflow")),
        s3_endpoint=s3_url,
        pgpass=str(pg.pgpass),
        optuna_storage=pg.url("optuna"),
        slurm_conf=slurm_conf,
        startup_seconds=seconds,
    )
    write_json(folder / STATE_FILE, asdict(cluster))
    return cluster


SERVICES = {
    "mlflow": (mlflow_server.NAME,),
    "postgres": (postgres.NAME,),
    "s3": (s3.NAME,),
    "slurm": slurm.DAEMONS,
}


def status(folder: Path) -> dict[str, bool]:
    """Whether each daemon of each service runs (by its PID file)."""
    return {
        f"{service}/{name}" if len(names) > 1 else service: daemon.running(folder / service, name)
        for service, names in SERVICES.items()
        for name in names
    }


def stop(folder: Path) -> list[str]:
    """Stop every service this folder's PID files name; returns what was running."""
    folder = folder.resolve()
    stopped = []
    if mlflow_server.stop(folder / "mlflow"):
        stopped.append("mlflow")
    stopped += [f"slurm/{name}" for name in slurm.stop(folder / "slurm")]
    if postgres.stop(folder / "postgres"):
        stopped.append("postgres")
    if s3.stop(folder / "s3"):
        stopped.append("s3")
    (folder / STATE_FILE).unlink(missing_ok=True)
    return stopped


def remove(folder: Path) -> None:
    """Stop the cluster and delete its state (databases, buckets, secrets)."""
    stop(folder)
    shutil.rmtree(folder, ignore_errors=True)
