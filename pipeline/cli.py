"""What every stage's ``main`` shares: user errors become one line on stderr and exit code 1."""

import sys
from collections.abc import Callable

from pipeline.config import PipelineError
from scratchnn import TrainingDiverged, WeightsError

USER_ERRORS = (PipelineError, WeightsError, TrainingDiverged)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; errors the user can fix print as ``error: ...``, not a traceback."""
    try:
        main()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: no partial output was kept", file=sys.stderr)
        sys.exit(130)
