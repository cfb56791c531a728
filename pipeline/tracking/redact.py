"""Secrets never written down: URIs, command lines and messages with their secrets as ``***``.

A tracking or store URI may carry a password (``http://alice:pw@host``,
``postgresql://user:pw@host/db``) or a token in its query string (``?token=...``,
``X-Amz-Signature=...``); a command line may carry ``--password pw`` or ``AWS_SECRET_KEY=...``.
Whatever the pipeline prints, saves in ``reports/`` or logs to MLflow goes through here first.
"""

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# A name that looks like it holds a secret: password, passwd, pwd, secret, token, api_key,
# access_key, credential(s), signature, auth..., private_key
SECRET_NAME = re.compile(
    r"pass(word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|credential|signature|"
    r"auth|private[_-]?key|session[_-]?key",
    re.IGNORECASE,
)
# scheme://userinfo@ anywhere in a text (error messages quote the URLs they failed on)
USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_uri(uri: str) -> str:
    """``http://alice:pw@host:5000/x?token=t&a=1`` -> ``http://***@host:5000/x?token=***&a=1``.
    A URI without secrets comes back unchanged."""
    try:
        parts = urlsplit(uri)
    except ValueError:  # not a URI at all: mask what looks like userinfo
        return USERINFO.sub(rf"\g<scheme>{MASK}@", uri)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(looks_secret(key) for key, _ in pairs):
            masked = [(key, MASK if looks_secret(key) else value) for key, value in pairs]
            query = urlencode(masked, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URI inside ``text`` (an error message, a warning) redacted."""
    return URI.sub(lambda match: redact_uri(match.group(0)), text)


def redact_command(argv: Sequence[str]) -> list[str]:
    """A command line with secrets masked: the value of an option whose name looks secret
    (``--password pw``, ``--token=t``), ``KEY=value`` pairs whose key looks secret
    (``AWS_SECRET_ACCESS_KEY=...``, ``db.password=...``), and the secrets inside URIs."""
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        if arg.startswith("-") and looks_secret(arg.split("=", 1)[0]):
            if "=" in arg:
                masked.append(f"{arg.split('=', 1)[0]}={MASK}")
            else:
                masked.append(arg)
                hide_next = True
            continue
        key, sep, _ = arg.partition("=")
        if sep and "://" not in key and looks_secret(key):
            masked.append(f"{key}={MASK}")
            continue
        masked.append(redact_text(arg))
    return masked
