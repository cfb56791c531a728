"""The evaluation, logged into its training's MLflow run.

``log_evaluation`` does it in-process (a sweep job, whose worker has MLflow loaded already). The
``evaluate`` stage instead starts ``EvaluationLog`` first thing: a child process
(``python -m pipeline.tracking.evaluation_log RUN_ID``) that imports MLflow and opens the store
(2 to 3 s of one core) while the stage computes its metrics and draws its figures on the other,
then waits for one JSON line on its stdin and logs what it names. The stage waits for it
before it exits, so a finished ``evaluate`` has logged everything, as before.

The child runs in a session of its own, so Ctrl-C at the terminal reaches only the stage, and it
ignores SIGINT and SIGTERM too: the stage handles them, and a stage that ends without sending
the line closes the pipe, so the child exits without logging. Its warnings are the ones the
in-process path prints, after the report.
"""

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline import phases

MODULE = "pipeline.tracking.evaluation_log"


def what(run_id: str) -> str:
    return f"logging the evaluation into run {run_id}"


def log_evaluation(run: Any, metrics: dict, reports: str | Path, step: int) -> None:
    """Test metrics (at ``step``, the last epoch) and every file of ``reports``, into ``run``
    (a ``tracking.Run``)."""
    if "test" in metrics:
        values = {f"test_{key}": metrics["test"][key] for key in ("accuracy", "loss")}
        run.log_metrics(values, step=step)
    run.log_artifacts(reports, "reports")


class EvaluationLog:
    """The child process that logs an evaluation; ``send`` hands it the results and waits."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.child = subprocess.Popen(
            [sys.executable, "-m", MODULE, run_id],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C at the terminal reaches the stage, not this child
        )

    def send(self, metrics: dict, reports: str | Path, step: int) -> None:
        assert self.child.stdin is not None
        request = {"metrics": metrics, "reports": str(reports), "step": step}
        with phases.timed("tracking: waiting for the logging process"):
            try:
                self.child.stdin.write(json.dumps(request) + "\n")
                self.child.stdin.close()
            except BrokenPipeError:  # it died before reading: its exit code says so below
                pass
            code = self.child.wait()
        if code:
            print(
                f"warning: {what(self.run_id)} to MLflow failed: the process that logs it "
                f"exited with code {code}",
                file=sys.stderr,
            )

    def __enter__(self) -> "EvaluationLog":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Without a ``send`` (an error, an interrupt), close the pipe: the child exits without
        logging."""
        if self.child.stdin is not None and not self.child.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.child.stdin.close()
        if kind is None:
            self.child.wait()


def child_main() -> None:
    """Open the run now; log when the stage sends its results (a failure to open it is
    reported then, as the in-process path would report it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from pipeline.tracking import mlflow_runs  # MLflow itself is imported by resume_run

    run_id = sys.argv[1]
    failure: Exception | None = None
    with phases.timed("tracking: opening the store (logging process)"):
        try:
            run = mlflow_runs.resume_run(run_id)
        except Exception as error:  # reported once the results arrive, not before the report
            run, failure = None, error
    line = sys.stdin.readline()
    if not line:  # the stage ended without results
        return
    request = json.loads(line)

    def log() -> None:
        if failure is not None:
            raise failure
        log_evaluation(run, request["metrics"], request["reports"], request["step"])

    with phases.timed("tracking: logging the evaluation (logging process)"):
        mlflow_runs.best_effort(log, what(run_id))


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(child_main)
