"""Writing outputs atomically: a reader (or DVC) sees the old file or the new one, never half.

When the machine refuses a write (a full disk, no permission, a read-only filesystem, an output
path that is a folder or sits under a file), the temp files go, the old outputs stay as they
were, and the error is one ``WriteRefused`` naming the output: ``data/prepared: no space left on
device while writing the prepared splits (172 MB needed, 20 MB free)``.
"""

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pipeline.errors import NO_SPACE, WriteRefused, refusal


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


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"


def _free_space(path: Path) -> int:
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    return shutil.disk_usage(existing).free


@contextlib.contextmanager
def _named_refusals(path: Path, what: str | None, needed: int | None) -> Iterator[None]:
    """The machine's refusal to write ``path`` (an ``OSError``) as one ``WriteRefused`` line;
    other errors pass unchanged. Innermost clean-ups have run by then: the free space is true."""
    try:
        yield
    except OSError as error:
        reason = refusal(error)
        if reason is None:
            raise
        doing = f" while writing {what}" if what else ""
        sizes = [f"{_megabytes(needed)} needed"] if needed is not None else []
        if reason == NO_SPACE:
            sizes.append(f"{_megabytes(_free_space(path))} free")
        amounts = f" ({', '.join(sizes)})" if sizes else ""
        raise WriteRefused(f"{path}: {reason}{doing}{amounts}") from None


def _make_parent(path: Path) -> None:
    """Create ``path``'s folder; refuse at once an output that is a folder or sits under a file."""
    blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise WriteRefused(f"{path}: cannot be written: {blocker} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)


_deferred: list[list[tuple[Path, Path]]] = []  # (temp, output) of each open all_or_nothing


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """The files ``atomic_file`` writes in this block take their places together when it ends,
    and none does if anything in it fails: a stage whose last output cannot be written keeps
    all its earlier outputs as they were (never the new weights beside the old history)."""
    pending: list[tuple[Path, Path]] = []
    _deferred.append(pending)
    try:
        yield
        _deferred.pop()  # this block's list: the innermost (a stack, by identity)
        if _deferred:  # inside another such block: its files take their places with its own
            _deferred[-1].extend(pending)
            return
        for temp, path in pending:
            with _named_refusals(path, None, None):
                temp.replace(path)
    except BaseException:
        for temp, _ in pending:
            temp.unlink(missing_ok=True)
        raise
    finally:
        if _deferred and _deferred[-1] is pending:
            _deferred.pop()


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
def atomic_file(
    path: str | Path, mode: str = "wb", what: str | None = None, needed: int | None = None
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success rename it onto ``path`` (at the end of an
    enclosing ``all_or_nothing``), else delete it. ``what`` and ``needed`` (bytes) go into a
    refusal's message."""
    path = Path(path)
    with _named_refusals(path, what, needed):
        _make_parent(path)
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        made: list[Path] = []
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            fd = _create_beside(path, lambda temp: os.open(temp, flags, 0o600), made)
            os.fchmod(fd, 0o666 & ~UMASK)  # readable as the umask allows, like any new file
            with os.fdopen(fd, mode) as file:
                yield file
            if _deferred:
                _deferred[-1].append((made.pop(), path))
            else:
                made[-1].replace(path)
        except BaseException:
            for temp in made:
                temp.unlink(missing_ok=True)
            raise


def _private_folder(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


@contextlib.contextmanager
def atomic_dir(
    path: str | Path, what: str | None = None, needed: int | None = None
) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path``; on success it replaces ``path`` whole.

    A folder cannot be renamed over a folder that has files, so an existing ``path`` is first
    moved aside into another temp folder, then the new one takes its place. An error or interrupt
    between the two renames moves the old folder back: ``path`` is always the old or the new.
    ``what`` and ``needed`` (bytes) go into a refusal's message."""
    path = Path(path)
    with _named_refusals(path, what, needed), _replacing_dir(path) as tmp:
        yield tmp


@contextlib.contextmanager
def _replacing_dir(path: Path) -> Iterator[Path]:
    _make_parent(path)
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


def write_text(path: str | Path, text: str, what: str | None = None) -> None:
    with atomic_file(path, "w", what) as file:
        file.write(text)


def write_json(path: str | Path, data: Any, what: str | None = None) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n", what)
