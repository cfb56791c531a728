"""Where a stage's seconds go, for ``make bench-loop``.

With ``NEURALSCRATCH_PHASES`` naming a file, each ``timed("figures")`` block appends one JSON
line ``{"pid", "phase", "start", "seconds"}`` to it, and ``process_started()`` records the
process's own start (from ``/proc``), so that the time before the first line of ``main`` (the
interpreter and the imports) is counted too. Unset, as everywhere outside the benchmark, a block
costs one lookup in ``os.environ`` and writes nothing.
"""

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

ENV = "NEURALSCRATCH_PHASES"
STARTED = "start and imports"  # the phase from the process's creation to main()
ENDED = "end"  # a zero-length phase when main() returns


def _record(phase: str, start: float, seconds: float) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"pid": os.getpid(), "phase": phase, "start": start, "seconds": seconds})
    with Path(path).open("a") as file:  # one short write per line: lines of processes do not mix
        file.write(line + "\n")


@contextlib.contextmanager
def timed(phase: str) -> Iterator[None]:
    if not os.environ.get(ENV):
        yield
        return
    start = time.time()
    try:
        yield
    finally:
        _record(phase, start, time.time() - start)


def creation_time() -> float:
    """When this process was created, in ``time.time()`` seconds, to 10 ms (Linux: its start in
    clock ticks after boot, from ``/proc``; elsewhere now, so the start-up phase reads 0)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # starttime, field 22 of stat
    except (OSError, IndexError, ValueError):
        return time.time()
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return time.time() - age


def process_started() -> None:
    """Record the phase from the process's creation to now (call it first thing in main)."""
    if os.environ.get(ENV):
        started = creation_time()
        _record(STARTED, started, time.time() - started)


def process_ended() -> None:
    _record(ENDED, time.time(), 0.0)
