"""Register a run's MLflow Model as a new version of ``neuralscratch`` (of
``neuralscratch-fashion-mnist`` for a run on Fashion-MNIST); move ``champion`` to it when it
beats that model's current champion on validation accuracy.

    python -m pipeline.tools.register RUN_ID          # any run (the id, or its first characters)
    python -m pipeline.tools.register --sweep         # the best run of the latest sweep
    python -m pipeline.tools.register --sweep 2026-11-25/15-50-01
    python -m pipeline.tools.compare --register       # the same, after the comparison table

Then ``models:/neuralscratch@champion`` is the best model registered so far, for
``mlflow.pyfunc.load_model``, ``mlflow models serve`` and ``predict --model``.
"""

import argparse
import logging
import math
from dataclasses import dataclass

from pipeline.cli import run_stage
from pipeline.config import PipelineError
from pipeline.tracking import mlflow_runs
from pipeline.tracking.logged_model import ARTIFACT_NAME, registered_model
from pipeline.tracking.queries import METRIC, best_run, default_experiment, latest_sweep, search
from pipeline.tracking.redact import redact_text

ALIAS = "champion"


@dataclass
class Registration:
    model: str  # the registered model's name
    version: str
    accuracy: float
    champion_before: tuple[str, float] | None  # (version, its validation accuracy)
    promoted: bool

    def summary(self, run_id: str) -> str:
        line = (
            f"registered run {run_id} as {self.model} version {self.version} "
            f"({METRIC} {self.accuracy:.4f})"
        )
        before = self.champion_before
        if before is None:
            return f"{line}; it is the first {ALIAS}: models:/{self.model}@{ALIAS}"
        held = f"version {before[0]} ({METRIC} {before[1]:.4f})"
        if self.promoted:
            return f"{line}; it beats the {ALIAS} {held}: {ALIAS} -> version {self.version}"
        return f"{line}; the {ALIAS} stays {held}, which it does not beat"


def run_accuracy(client, run_id: str) -> float:
    value = client.get_run(run_id).data.metrics.get(METRIC)
    return float("nan") if value is None else float(value)


def current_champion(client, model: str) -> tuple[str, float] | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model, ALIAS)
    except MlflowException:  # no registered model yet, or no champion
        return None
    return version.version, run_accuracy(client, version.run_id)


def register_run(run_id: str) -> Registration:
    """A new version from the run's logged model (``runs:/<run_id>/model``); ``champion``
    moves to it if it has no holder yet or the new version's validation accuracy is higher."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = mlflow_runs.tracking_uri()
    mlflow_runs.check_reachable(uri)
    client = mlflow_runs.client_for(uri)
    mlflow.set_tracking_uri(uri)
    accuracy = run_accuracy(client, run_id)
    if math.isnan(accuracy):
        raise PipelineError(f"run {run_id} has no {METRIC}: only a finished training registers")
    model = registered_model(client.get_run(run_id).data.params.get("data.name", "mnist"))
    before = current_champion(client, model)
    logging.getLogger("mlflow.tracking._model_registry").setLevel(logging.WARNING)
    outputs = client.get_run(run_id).outputs
    models = [output.model_id for output in (outputs.model_outputs if outputs else [])]
    if not models:
        raise PipelineError(f"run {run_id} has no logged MLflow Model ({ARTIFACT_NAME})")
    try:
        version = mlflow.register_model(f"models:/{models[-1]}", model)
    except MlflowException as error:
        raise PipelineError(f"run {run_id}: {redact_text(error.message)}") from None
    promoted = before is None or not accuracy <= before[1]  # a NaN champion is beaten
    if promoted:
        client.set_registered_model_alias(model, ALIAS, version.version)
    return Registration(model, version.version, accuracy, before, promoted)


def resolve_run_id(experiment: str, prefix: str) -> str:
    """A run id from its first characters (compare prints eight), within ``experiment``."""
    if len(prefix) == 32:
        return prefix
    runs = search(experiment, None)
    found = [] if runs.empty else [r for r in runs["run_id"] if r.startswith(prefix)]
    if len(found) != 1:
        what = "no run" if not found else f"{len(found)} runs"
        raise PipelineError(f"{what} of experiment {experiment!r} with an id starting {prefix!r}")
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.register",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_id", nargs="?", help="the run to register (or its first characters)")
    parser.add_argument(
        "--sweep", nargs="?", const="latest", help="register the best run of a sweep"
    )
    parser.add_argument("--experiment", default=None, help="default: tracking.experiment")
    args = parser.parse_args()
    if (args.run_id is None) == (args.sweep is None):
        parser.error("give a run id or --sweep")
    experiment = args.experiment or default_experiment()
    if args.sweep is not None:
        sweep = latest_sweep(experiment) if args.sweep == "latest" else args.sweep
        run_id = best_run(search(experiment, sweep))
    else:
        run_id = resolve_run_id(experiment, args.run_id)
    print(register_run(run_id).summary(run_id))


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
