"""Writing outputs atomically: a reader (or DVC) sees the old file or the new one, never half."""

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: once, at import
    os.umask(mask)
    return mask


UMASK = _umask()
T = TypeVar("T")


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


def _create_beside(path: Path, create: Callable[[Path], T], made: list[Path]) -> T:
    """``create(temp)`` for a new hidden temp name beside ``path``, listed in ``made`` before it
    exists: an interrupt (Ctrl-C, SIGTERM) that lands as it is created still finds it to delete.
    (``mkstemp`` creates and names in one call: an interrupt just after it left the file.)"""
    while True:
        prefix, suffix = _temp_affixes(path)
        temp = path.parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        made.append(temp)
        try:
            return create(temp)
        except FileExistsError:  # another writer's: never ours to delete
            made.pop()


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success rename it onto ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = _create_beside(path, lambda temp: os.open(temp, flags, 0o600), made)
        os.fchmod(fd, 0o666 & ~UMASK)  # readable as the umask allows, like any new file
        with os.fdopen(fd, mode) as file:
            yield file
        made[-1].replace(path)
    except BaseException:
        for temp in made:
            temp.unlink(missing_ok=True)
        raise


def _private_folder(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path``; on success it replaces ``path`` whole.

    A folder cannot be renamed over a folder that has files, so an existing ``path`` is first
    moved aside into another temp folder, then the new one takes its place. An error or interrupt
    between the two renames moves the old folder back: ``path`` is always the old or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    aside: Path | None = None  # where the old folder goes (named before it is moved there)
    try:
        tmp = _create_beside(path, _private_folder, made)
        tmp.chmod(0o777 & ~UMASK)  # readable as the umask allows, like any new folder
        yield tmp
        if path.exists():
            aside = _create_beside(path, _private_folder, made) / path.name
            path.replace(aside)
            tmp.replace(path)
            shutil.rmtree(made[-1])
        else:
            tmp.replace(path)
    except BaseException:
        if aside is not None and aside.exists() and not path.exists():
            aside.replace(path)
        for temp in made:
            shutil.rmtree(temp, ignore_errors=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_file(path, "w") as file:
        file.write(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_array(path: str | Path, array: np.ndarray) -> None:
    with atomic_file(path) as file:
        np.save(file, array, allow_pickle=False)
