"""What every entry point shares: user errors become one line on stderr and exit code 1."""

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from pipeline.config import PipelineError
from scratchnn import TrainingDiverged, WeightsError

USER_ERRORS = (PipelineError, WeightsError, TrainingDiverged)


INTERRUPTED = threading.Event()  # set by SIGTERM/SIGINT: code that swallows errors must not hide it
_shield = {"depth": 0, "pending": ""}


def _interrupt(signum: int, frame: object) -> None:
    INTERRUPTED.set()
    if _shield["depth"]:  # inside a store call: interrupt when it is done, not halfway
        _shield["pending"] = signal.Signals(signum).name
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM until the block ends: an interrupt inside a database call can leave
    its connection holding a lock, and then nothing can mark the run KILLED."""
    _shield["depth"] += 1
    try:
        yield
    finally:
        _shield["depth"] -= 1
        if not _shield["depth"] and _shield["pending"]:
            name, _shield["pending"] = _shield["pending"], ""
            raise KeyboardInterrupt(name)


@contextlib.contextmanager
def user_errors_exit() -> Iterator[None]:
    """Errors the user can fix print as ``error: ...`` (exit 1), not a traceback; Ctrl-C and
    SIGTERM exit 130 after temp files are removed and the MLflow run is marked KILLED."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: no partial output was kept", file=sys.stderr)
        sys.exit(130)


def run_stage(main: Callable[[], None]) -> None:
    with user_errors_exit():
        main()
