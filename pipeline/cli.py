"""What every entry point shares: user errors become one line on stderr and exit code 1."""

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline import phases
from pipeline.errors import PipelineError, refusal_line

# scratchnn's own user errors, by name: importing scratchnn here would put the whole network
# library into the import closure (and the DVC deps) of stages that never touch it, like fetch
LIBRARY_ERRORS = ("WeightsError", "TrainingDiverged", "ArchitectureError")


def user_errors() -> tuple[type[BaseException], ...]:
    """PipelineError, and scratchnn's errors once scratchnn is loaded (before, none can occur)."""
    library = sys.modules.get("scratchnn")
    found = [getattr(library, name, None) for name in LIBRARY_ERRORS] if library else []
    return (PipelineError, *(error for error in found if isinstance(error, type)))


INTERRUPTED = threading.Event()  # set by SIGTERM/SIGINT: code that swallows errors must not hide it
# A second signal this soon after the first is the same interrupt delivered twice: SLURM's
# slurmstepd signals a task that srun signals too, at its time limit or `scancel`. Taken as a
# new interrupt, it cut short the marking of the run KILLED and left it RUNNING. Later, Ctrl-C
# again interrupts as usual (a user who will not wait for a slow store).
REPEATED_WITHIN_SECONDS = 5.0
_shield = {"depth": 0, "pending": "", "first": 0.0}


def _interrupt(signum: int, frame: object) -> None:
    now = time.monotonic()
    if INTERRUPTED.is_set() and now - _shield["first"] < REPEATED_WITHIN_SECONDS:
        return
    if not INTERRUPTED.is_set():
        _shield["first"] = now
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
    SIGTERM exit 130 after temp files are removed and the MLflow run is marked KILLED. So does
    the machine's refusal of a write that ``pipeline.io`` did not name (a library's own file)."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    except user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:
        line = refusal_line(error)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: no partial output was kept", file=sys.stderr)
        sys.exit(130)


def refuse_arguments(stage: str, arguments: list[str]) -> None:
    """A stage that reads params.yaml has no command line: a ``key=value`` given to it would be
    silently ignored, and the run would not be the one the user asked for."""
    if arguments:
        change = arguments[0] if "=" in arguments[0] else "optimizer.lr=0.01"
        raise PipelineError(
            f"the {stage} stage takes no arguments (got {' '.join(arguments)!r}): it reads "
            f"params.yaml; change a key with `dvc exp run -S {change}`, "
            f'or `make params O="{change}"` then `dvc repro`'
        )


def run_stage(main: Callable[[], None], takes_arguments: bool = True) -> None:
    """Run an entry point with one-line user errors; a stage that reads only params.yaml
    (``takes_arguments=False``) refuses a command line instead of ignoring it."""
    phases.process_started()
    with user_errors_exit():
        if not takes_arguments:
            refuse_arguments(Path(sys.argv[0]).stem, sys.argv[1:])
        main()
    phases.process_ended()
    if main.__module__ == "__main__":  # this process is ``python -m`` of main's own module
        end_process()


def end_process() -> None:
    """End a process whose entry point has finished, without the interpreter's teardown of
    every module it loaded (1.6 s for ``train``, which has MLflow, SQLAlchemy and pandas
    loaded; 0.5 s for ``evaluate``). Every output is written and closed by then; what
    ``atexit`` holds (temp-folder finalizers, logging's flush) still runs, then the streams
    are flushed."""
    atexit._run_exitfuncs()  # CPython's own runner of the registered functions
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
