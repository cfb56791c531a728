"""Writing outputs atomically: a reader (or DVC) sees the old file or the new one, never half."""

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: once, at import
    os.umask(mask)
    return mask


UMASK = _umask()


def _temp_affixes(path: Path) -> tuple[str, str]:
    return f".{path.name}.", ".tmp"


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete the temp files that a killed writer of ``path`` (SIGKILL: no clean-up) left."""
    path = Path(path)
    prefix, suffix = _temp_affixes(path)
    stale = [p for p in path.parent.glob(f"{prefix}*{suffix}") if p.is_file()]
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success rename it onto ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = _temp_affixes(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp's 0600 would make outputs private
    try:
        with os.fdopen(fd, mode) as file:
            yield file
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path``; on success it replaces ``path`` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    tmp.chmod(0o777 & ~UMASK)  # mkdtemp's 0700 would make the folder private
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            path.replace(old / path.name)
            tmp.replace(path)
            shutil.rmtree(old)
        else:
            tmp.replace(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_file(path, "w") as file:
        file.write(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_array(path: str | Path, array: np.ndarray) -> None:
    with atomic_file(path) as file:
        np.save(file, array, allow_pickle=False)
