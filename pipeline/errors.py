"""The error a user can fix: bad input or bad configuration. Every entry point prints it as one
``error: ...`` line (see ``pipeline.cli``), never a traceback.

The machine's refusals to write (a full disk, a folder one may not write, a read-only
filesystem, an output path that is a folder or sits under a file) are such errors too: the user
frees space or picks another folder. ``refusal`` names them in words."""

import errno
import re


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
