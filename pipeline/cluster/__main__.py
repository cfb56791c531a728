"""``python -m pipeline.cluster start|stop|status [--dir FOLDER]``: the local cluster.

``start`` prints the ``export`` lines a shell needs (``eval "$(python -m pipeline.cluster env)"``
sets them) and points this project's DVC remote ``cluster`` at the S3 server (in
``.dvc/config.local``, which git ignores)."""

import argparse
import subprocess
import sys
from pathlib import Path

from pipeline.cluster import daemon, services, slurm
from pipeline.config import PROJECT_ROOT
from pipeline.errors import refusal_line

DEFAULT_DIR = PROJECT_ROOT / ".cluster"
DVC_REMOTE = "cluster"


def configure_dvc_remote(cluster: services.Cluster, project: Path = PROJECT_ROOT) -> None:
    """The project's default DVC remote, on the cluster's S3 server (local config only)."""
    settings = [
        ["remote", "add", "--local", "--force", "--default", DVC_REMOTE, "s3://dvc/neuralscratch"],
        ["remote", "modify", "--local", DVC_REMOTE, "endpointurl", cluster.s3_endpoint],
        ["remote", "modify", "--local", DVC_REMOTE, "access_key_id", "local-cluster"],
        ["remote", "modify", "--local", DVC_REMOTE, "secret_access_key", "local-cluster"],
    ]
    for args in settings:
        subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, check=True)


def usage(cluster: services.Cluster, folder: Path) -> str:
    slurm_line = (
        f"SLURM: partition {slurm.PARTITION!r} (sinfo, squeue, sacct with SLURM_CONF set)"
        if cluster.slurm_conf
        else f"SLURM: not started ({', '.join(slurm.missing_programs())} missing)"
    )
    dir_option = "" if folder == DEFAULT_DIR else f" --dir {folder}"
    times = ", ".join(f"{name} {sec} s" for name, sec in cluster.startup_seconds.items())
    return f"""\
local cluster in {cluster.folder} (started in: {times})
  MLflow server: {cluster.tracking_uri} (user {cluster.tracking_username!r}, password in \
{cluster.tracking_password_file})
  S3 server: {cluster.s3_endpoint} (DVC remote {DVC_REMOTE!r})
  Optuna storage: {cluster.optuna_storage} (password from PGPASSFILE)
  {slurm_line}
In a shell:
  eval "$(python -m pipeline.cluster env{dir_option})"
"""


def running(cluster: services.Cluster) -> list[str]:
    """The daemons ``cluster`` was started with."""
    names = [name for name in services.status(Path(cluster.folder)) if not name.startswith("slurm")]
    return names + ([f"slurm/{d}" for d in slurm.DAEMONS] if cluster.slurm_conf else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.cluster", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the state folder")
    args = parser.parse_args(argv)
    folder: Path = args.dir.resolve()
    if args.command == "stop":
        stopped = services.stop(folder)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    if args.command == "status":
        for name, up in services.status(folder).items():
            print(f"{name}: {'running' if up else 'stopped'}")
        return 0
    cluster = services.load(folder)
    if args.command == "env":
        if cluster is None:
            print(f"error: {folder}: no cluster; start one with `make cluster`", file=sys.stderr)
            return 1
        print(cluster.shell_exports())
        return 0
    if cluster is not None and all(services.status(folder)[name] for name in running(cluster)):
        print(usage(cluster, folder))
        return 0
    services.stop(folder)  # whatever is left of an earlier cluster
    try:
        cluster = services.start(folder)
    except (daemon.ServiceError, OSError, subprocess.CalledProcessError) as error:
        refused = refusal_line(error) if isinstance(error, OSError) else None
        print(f"error: {folder}: the cluster did not start: {refused or error}", file=sys.stderr)
        return 1
    if folder.is_relative_to(PROJECT_ROOT):
        configure_dvc_remote(cluster)
    print(usage(cluster, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
