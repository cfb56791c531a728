"""Real filesystems that refuse writes, for the tests of what a full disk or a read-only folder
does to a stage: a small tmpfs, filled on demand, and a read-only bind mount. Both need root
(CI runs as root); elsewhere the test is skipped, saying why, except under ``CI=true``: there
it fails, as a missing browser does."""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import unavailable

FILLER = ".filler"


def require_root(what: str) -> None:
    """Skip (fail in CI) where this process cannot mount filesystems."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root to mount a filesystem (CI runs the tests as root)")


def _mount(*arguments: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        unavailable(f"cannot mount ({' '.join(arguments)}): {result.stderr.strip()}")


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, check=True)


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"4m"``) mounted on ``folder`` for the block."""
    require_root("a full-disk test")
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _unmount(folder)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (made if missing) bind-mounted read-only onto itself for the block."""
    require_root("a read-only-filesystem test")
    folder.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield folder
    finally:
        _unmount(folder)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill the filesystem of ``disk`` until ``leave`` bytes (rounded to its blocks) are free."""
    filler = disk / FILLER
    stats = os.statvfs(disk)
    size = max(0, stats.f_bavail * stats.f_frsize - leave)
    with filler.open("ab") as out:
        while size > 0:
            chunk = min(size, 1 << 20)
            try:
                out.write(b"\0" * chunk)
                out.flush()
            except OSError:  # full: a tmpfs counts its pages, not our bytes
                return
            size -= chunk


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the filler aside), by path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != FILLER
    }
