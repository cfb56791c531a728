"""Finding runs in the MLflow store: a sweep's runs, the latest sweep, the best run.

What ``compare`` and ``register`` share: both take a sweep (the latest by default) and its best run.
"""

import pandas as pd

from pipeline.config import PARAMS_FILE, PROJECT_ROOT, PipelineError, load_params
from pipeline.tracking import mlflow_runs

METRIC = "val_accuracy"  # what "best" means: the highest final validation accuracy


def search(experiment: str, sweep: str | None) -> pd.DataFrame:
    """Runs of ``experiment`` (of one ``sweep`` if given), sweep parent runs left out."""
    import mlflow

    # a refused login: one line, not a traceback
    mlflow_runs.check_reachable(mlflow_runs.tracking_uri())
    mlflow.set_tracking_uri(mlflow_runs.tracking_uri())
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        where = mlflow_runs.where(mlflow_runs.tracking_uri())
        raise PipelineError(f"no MLflow experiment {experiment!r} at {where}")
    where = f"tags.sweep = '{sweep}'" if sweep else ""
    runs = mlflow.search_runs([found.experiment_id], filter_string=where, output_format="pandas")
    assert isinstance(runs, pd.DataFrame)
    if runs.empty:
        return runs
    if "tags.sweep.parent" in runs:
        runs = runs[runs["tags.sweep.parent"] != "true"]
    return runs.reset_index(drop=True)


def latest_sweep(experiment: str) -> str:
    runs = search(experiment, None)
    if runs.empty or "tags.sweep" not in runs or runs["tags.sweep"].isna().all():
        raise PipelineError(
            f"no sweep in MLflow experiment {experiment!r}; run one with "
            "`python -m pipeline.tools.sweep -m optimizer.lr=0.001,0.01`"
        )
    swept = runs.dropna(subset=["tags.sweep"]).sort_values("start_time")
    return str(swept["tags.sweep"].iloc[-1])


def default_experiment() -> str:
    params = PROJECT_ROOT / PARAMS_FILE
    return load_params(params).tracking.experiment if params.is_file() else "neuralscratch"


def best_run(runs: pd.DataFrame) -> str:
    """The finished run with the highest final validation accuracy."""
    finished = runs[runs["status"] == "FINISHED"]
    if finished.empty or f"metrics.{METRIC}" not in finished:
        raise PipelineError(f"no finished run with a {METRIC} to register")
    return str(finished.sort_values(f"metrics.{METRIC}", ascending=False)["run_id"].iloc[0])
