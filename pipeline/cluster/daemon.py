"""One background service: started in its own session with its log in a file, its PID in a PID
file, stopped by that PID (and only if the PID still runs the program it was started as)."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ServiceError(RuntimeError):
    """A service did not start; the message names it and ends with the tail of its log."""


class PortTaken(ServiceError):
    """Another program took the service's port between ``free_port`` and the service's start."""


def free_port() -> int:
    """A free TCP port on loopback (the kernel's pick, so parallel clusters never collide)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def log_tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace") if log.is_file() else ""
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    name: str,
    argv: Sequence[str],
    folder: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Start ``argv`` in the background; its output goes to ``<folder>/<name>.log`` and its PID
    to ``<folder>/<name>.pid``. ``user``: run as that account (PostgreSQL refuses root)."""
    log = folder / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            env=dict(env if env is not None else os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=user,
            cwd=folder,
        )
    (folder / f"{name}.pid").write_text(f"{process.pid}\n")
    return process.pid


def wait_until(
    name: str,
    ready: Callable[[], bool],
    folder: Path,
    timeout: float = 120,
    port: int | None = None,
) -> None:
    """Poll ``ready`` until it holds; fail with the log's tail if the service died or is late.
    With ``port``: ``PortTaken`` if another program listens there instead (``ready`` may be that
    program answering), or the service died because the port was in use."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not running(folder, name):
            tail = log_tail(folder / f"{name}.log")
            if port is not None and "in use" in tail:
                raise PortTaken(f"{name}: port {port} is in use by another program:\n{tail}")
            raise ServiceError(f"{name} exited at start-up:\n{tail}")
        if time.monotonic() > deadline:
            raise ServiceError(
                f"{name} not ready after {timeout:.0f} s:\n{log_tail(folder / f'{name}.log')}"
            )
        time.sleep(0.1)
    if port is not None and not listens(folder, name, port):
        raise PortTaken(f"{name}: another program listens on port {port}")


def listening_sockets(port: int) -> set[str]:
    """``socket:[inode]`` of every TCP socket listening on ``port`` (IPv4 and IPv6)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    sockets.add(f"socket:[{inode}]")
    return sockets


def listens(folder: Path, name: str, port: int) -> bool:
    """Whether a process of the service's own session (it was started in one: ``spawn``)
    listens on ``port``."""
    session, sockets = pid_of(folder, name), listening_sockets(port)
    if session is None or not sockets:
        return False
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            if os.getsid(int(process.name)) == session and any(
                str(fd.readlink()) in sockets for fd in (process / "fd").iterdir()
            ):
                return True
    return False


def pid_of(folder: Path, name: str) -> int | None:
    path = folder / f"{name}.pid"
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running(folder: Path, name: str) -> bool:
    pid = pid_of(folder, name)
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def stop(folder: Path, name: str, signum: int = signal.SIGTERM, timeout: float = 15) -> bool:
    """Send ``signum`` to the service's PID, wait for it to exit, then kill what is left of its
    process group. Returns whether it was running."""
    pid = pid_of(folder, name)
    if pid is None or not running(folder, name):
        (folder / f"{name}.pid").unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    deadline = time.monotonic() + timeout
    while running(folder, name) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # workers it left behind (its own session's group)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    (folder / f"{name}.pid").unlink(missing_ok=True)
    return True
