"""What every stage's ``main`` shares: user errors become one line on stderr and exit code 1."""

import signal
import sys
from collections.abc import Callable

from pipeline.config import PipelineError
from scratchnn import TrainingDiverged, WeightsError

USER_ERRORS = (PipelineError, WeightsError, TrainingDiverged)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; errors the user can fix print as ``error: ...``, not a traceback.
    SIGTERM is handled like Ctrl-C: temp files are removed and the MLflow run ends KILLED."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        main()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: no partial output was kept", file=sys.stderr)
        sys.exit(130)
