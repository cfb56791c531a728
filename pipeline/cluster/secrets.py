"""Generated secrets: random, in files only their owner can read (mode 600), created once."""

import os
import secrets
from pathlib import Path


def private_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 600 from the first byte (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.unlink(missing_ok=True)
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    temp.replace(path)
    return path


def secret(path: Path) -> str:
    """The secret stored in ``path``, generated (32 random URL-safe characters) if missing."""
    if not path.is_file():
        private_file(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()
