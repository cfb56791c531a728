"""What every entry point shares: user errors become one line on stderr and exit code 1."""

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from pipeline.config import PipelineError
from scratchnn import TrainingDiverged, WeightsError

USER_ERRORS = (PipelineError, WeightsError, TrainingDiverged)


INTERRUPTED = threading.Event()  # set by SIGTERM: code that swallows errors must not hide it


def _interrupt(signum: int, frame: object) -> None:
    INTERRUPTED.set()
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def user_errors_exit() -> Iterator[None]:
    """Errors the user can fix print as ``error: ...`` (exit 1), not a traceback; Ctrl-C and
    SIGTERM exit 130 after temp files are removed and the MLflow run is marked KILLED."""
    signal.signal(signal.SIGTERM, _interrupt)
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
