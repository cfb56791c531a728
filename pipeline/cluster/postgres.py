"""PostgreSQL on loopback: password logins only (scram-sha-256 in pg_hba.conf), one role and one
database per purpose, the passwords generated into a pgpass file (mode 600) that libpq reads, so
no password is ever on a command line (``ps``) or in a URI."""

import getpass
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.cluster import daemon
from pipeline.cluster.secrets import private_file, secret

NAME = "postgres"
ROLES = ("mlflow", "optuna")  # the MLflow server's store, the Optuna studies


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``postgres`` (Debian keeps them off PATH)."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "postgres").is_file():
            return folder
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` account."""
    return "postgres" if os.geteuid() == 0 else None


@dataclass(frozen=True)
class Postgres:
    folder: Path
    port: int

    @property
    def pgpass(self) -> Path:
        return self.folder / "pgpass"

    def url(self, role: str, driver: str = "postgresql+psycopg2") -> str:
        """The SQLAlchemy URL of ``role``'s database, without a password (libpq finds it in
        the file ``PGPASSFILE`` names)."""
        return f"{driver}://{role}@127.0.0.1:{self.port}/{role}"


def start(folder: Path, port: int) -> Postgres:
    bin_dir = binaries()
    if bin_dir is None:
        raise daemon.ServiceError("postgres: not installed (apt-get install postgresql)")
    user = server_user()
    data, sockets = folder / "data", folder / "socket"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)  # the server's account must enter it, never list it
    fresh = not (data / "PG_VERSION").is_file()
    for path in (data, sockets):
        path.mkdir(mode=0o700, exist_ok=True)
        if user:
            shutil.chown(path, user, user)
    if fresh:
        # Local socket logins by the server's own account only (peer): that is how the roles are
        # created below. Every TCP login needs a password.
        subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth-local=peer",
             "--auth-host=scram-sha-256", "--no-sync"],
            user=user, group=user, cwd=folder, check=True, capture_output=True,
        )  # fmt: skip
    daemon.spawn(
        NAME,
        [bin_dir / "postgres", "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", str(port),
         "-k", sockets, "-c", "fsync=off", "-c", "password_encryption=scram-sha-256"],
        folder, user=user,
    )  # fmt: skip
    daemon.wait_until(NAME, lambda: daemon.port_open(port), folder, port=port)
    postgres = Postgres(folder, port)
    passwords = {role: secret(folder / "secrets" / f"{role}.password") for role in ROLES}
    if fresh:
        create_roles(bin_dir, sockets, port, passwords, user)
    lines = [f"127.0.0.1:{port}:{role}:{role}:{password}" for role, password in passwords.items()]
    private_file(postgres.pgpass, "\n".join(lines) + "\n")
    return postgres


def create_roles(
    bin_dir: Path, sockets: Path, port: int, passwords: dict[str, str], user: str | None
) -> None:
    """One login role and one database per purpose; the SQL (with the passwords) goes through
    psql's standard input, not its arguments."""
    sql = "".join(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}';\nCREATE DATABASE {role} OWNER {role};\n"
        for role, password in passwords.items()
    )
    psql = shutil.which("psql") or str(bin_dir / "psql")
    subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sockets), "-p", str(port),
         "-U", "postgres", "-d", "postgres"],
        input=sql, text=True, user=user, group=user, cwd=sockets.parent, check=True,
        capture_output=True, env={**os.environ, "PGUSER": user or getpass.getuser()},
    )  # fmt: skip


def stop(folder: Path) -> bool:
    return daemon.stop(folder, NAME, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
