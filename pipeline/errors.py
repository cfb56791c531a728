"""The error a user can fix: bad input or bad configuration. Every entry point prints it as one
``error: ...`` line (see ``pipeline.cli``), never a traceback.

The machine's refusals to write (a full disk, a folder one may not write, a read-only
filesystem, an output path that is a folder or sits under a file) are such errors too: the user
frees space or picks another folder. ``refusal`` names them in words."""

import errno
import re
import sys
from importlib.util import find_spec


class PipelineError(Exception):
    """An error a user can fix (bad input, bad configuration); printed without a traceback."""


class WriteRefused(PipelineError):
    """The operating system refused to write an output (see ``refusal``)."""


NO_SPACE = "no space left on device"
REFUSALS = {
    errno.ENOSPC: NO_SPACE,
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this filesystem",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only filesystem",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}
# NumPy's and pandas' own words for a full disk, with no errno: "Not enough free space to write
# 172480000 bytes after offset 128" (NumPy's preallocation), "1000000 requested and 131056
# written" (NumPy's short write to a file object)
NO_SPACE_WORDS = re.compile(r"not enough free space|\d+ requested and \d+ written", re.IGNORECASE)


def refusal(error: OSError) -> str | None:
    """What the machine refused, in words, or None when ``error`` is not such a refusal."""
    if error.errno in REFUSALS:
        return REFUSALS[error.errno]
    if NO_SPACE_WORDS.search(str(error)):
        return NO_SPACE
    return None


def refusal_line(error: OSError) -> str | None:
    """``<file>: <refusal>`` for an error of a write outside our writing helpers, else None."""
    reason = refusal(error)
    if reason is None:
        return None
    where = error.filename2 if error.errno == errno.EISDIR and error.filename2 else error.filename
    return f"{where}: {reason}" if where is not None else reason


# What the entry points import from the environment (requirements.lock), by top-level name.
ENVIRONMENT = ("numpy", "pandas", "pyarrow", "omegaconf", "hydra", "mlflow", "matplotlib", "PIL")


def refuse_other_interpreters(needed: tuple[str, ...], what: str, fix: str) -> None:
    """Exit with one ``error:`` line when this Python lacks a package of ``needed`` (top-level
    names): ``python`` that is not the environment's, instead of a ``ModuleNotFoundError``
    halfway in. ``what`` is what runs ("stage"), ``fix`` the other way to run it."""
    missing = [name for name in needed if find_spec(name) is None]
    if missing:
        version = ".".join(map(str, sys.version_info[:3]))
        print(
            f"error: this {what} runs under {sys.executable or 'python'} (Python {version}), "
            f"which lacks the project's packages ({', '.join(missing)}): activate its "
            f"environment first (`source .venv/bin/activate`), or {fix}",
            file=sys.stderr,
        )
        sys.exit(1)
