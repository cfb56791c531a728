"""Compare MLflow runs as a table, and their validation-accuracy curves as a PNG.

    python -m pipeline.tools.compare                  # the latest sweep
    python -m pipeline.tools.compare 2026-11-25/15-50-01 --sort test_accuracy
    python -m pipeline.tools.compare --all            # every run (dvc repro, queue...)

Columns: run name, status, the swept parameters (or, without a sweep, every parameter that
differs between the runs), final validation and test accuracy, duration. Then, per sweep, the
parameter values of its best run; for a sweep of two or more keys, a parallel-coordinates PNG
(every swept key -> validation accuracy). ``--register`` registers the best run's model (see
``pipeline.tools.register``).
"""

import argparse
import os
from pathlib import Path

import pandas as pd

from pipeline.cli import run_stage
from pipeline.config import PipelineError
from pipeline.io import atomic_file
from pipeline.tools.parallel_coordinates import parallel_coordinates
from pipeline.tools.register import register_run
from pipeline.tracking import mlflow_runs
from pipeline.tracking.queries import best_run, default_experiment, latest_sweep, search

METRICS = ("val_accuracy", "test_accuracy", "val_loss", "test_loss")


def varying_params(runs: pd.DataFrame) -> list[str]:
    """The sweep's own parameters if recorded, else every parameter that differs."""
    if "tags.sweep.params" in runs and runs["tags.sweep.params"].notna().any():
        keys = sorted({k for value in runs["tags.sweep.params"].dropna() for k in value.split(",")})
        return [k for k in keys if f"params.{k}" in runs]
    params = [c.removeprefix("params.") for c in runs.columns if c.startswith("params.")]
    return [p for p in params if runs[f"params.{p}"].nunique(dropna=False) > 1]


def comparison_table(runs: pd.DataFrame, sort: str) -> pd.DataFrame:
    table = pd.DataFrame({"run": runs["tags.mlflow.runName"], "status": runs["status"]})
    for key in varying_params(runs):
        table[key] = runs[f"params.{key}"]
    for metric in METRICS:
        if f"metrics.{metric}" in runs:
            table[metric] = runs[f"metrics.{metric}"]
    table["seconds"] = (runs["end_time"] - runs["start_time"]).dt.total_seconds().round(1)
    table["run_id"] = runs["run_id"].str[:8]
    if sort in table:
        table = table.sort_values(sort, ascending=sort.endswith("loss"), na_position="last")
    return table.reset_index(drop=True)


def winners(runs: pd.DataFrame) -> list[str]:
    """Per sweep (or for all the runs, outside sweeps), the values of its best finished run."""
    if "metrics.val_accuracy" not in runs:
        return []
    groups = runs.groupby(runs["tags.sweep"].fillna("")) if "tags.sweep" in runs else [("", runs)]
    lines = []
    for sweep, group in groups:
        finished = group[group["status"] == "FINISHED"].dropna(subset=["metrics.val_accuracy"])
        if finished.empty:
            continue
        best = finished.sort_values("metrics.val_accuracy", ascending=False).iloc[0]
        values = ", ".join(f"{key}={best[f'params.{key}']}" for key in varying_params(group))
        lines.append(
            f"{'sweep ' + sweep if sweep else 'runs outside sweeps'}: best "
            f"{values or best['tags.mlflow.runName']} (val_accuracy "
            f"{best['metrics.val_accuracy']:.2%}, run {best['run_id'][:8]})"
        )
    return lines


def plot_curves(runs: pd.DataFrame, title: str, path: Path) -> None:
    """Every run's validation accuracy per epoch, one line each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    client = mlflow_runs.client_for(mlflow_runs.tracking_uri())
    figure, axes = plt.subplots(figsize=(8, 5))
    for run_id, name in zip(runs["run_id"], runs["tags.mlflow.runName"], strict=True):
        history = sorted(client.get_metric_history(run_id, "val_accuracy"), key=lambda m: m.step)
        if history:
            axes.plot([m.step for m in history], [m.value for m in history], marker=".", label=name)
    axes.set(title=title, xlabel="epoch", ylabel="validation accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend(fontsize="small")
    figure.tight_layout()
    with atomic_file(path, what="the curves") as file:
        figure.savefig(file, format="png", dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sweep", nargs="?", help="a sweep id (e.g. 2026-11-25/15-50-01); default: the latest sweep"
    )
    parser.add_argument("--all", action="store_true", help="every run of the experiment")
    parser.add_argument(
        "--experiment",
        default=None,
        help="MLflow experiment (default: tracking.experiment in params.yaml)",
    )
    parser.add_argument("--sort", default="val_accuracy", choices=METRICS)
    parser.add_argument(
        "--register",
        action="store_true",
        help="register the best run as a new version of the model neuralscratch",
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        help="where to write the curves (default: outputs/compare/<sweep>.png)",
    )
    args = parser.parse_args()
    experiment = args.experiment or default_experiment()
    sweep = None if args.all else (args.sweep or latest_sweep(experiment))
    runs = search(experiment, sweep)
    if runs.empty:
        raise PipelineError(
            f"no runs in experiment {experiment!r}" + (f" with sweep {sweep!r}" if sweep else "")
        )
    label = sweep or experiment
    print(
        f"{len(runs)} runs of {'sweep ' + sweep if sweep else 'experiment ' + experiment} "
        f"({mlflow_runs.where(mlflow_runs.tracking_uri())}), best {args.sort} first:"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(comparison_table(runs, args.sort).to_string(index=False))
    for line in winners(runs):
        print(line)
    png = args.png or Path("outputs") / "compare" / f"{label.replace(os.sep, '_')}.png"
    plot_curves(runs, f"Validation accuracy: {label}", png)
    print(f"curves -> {png}")
    keys = varying_params(runs)
    if sweep and len(keys) > 1:
        parallel = png.with_name(f"{png.stem}.parallel.png")
        parallel_coordinates(runs, keys, f"Sweep {sweep}: validation accuracy", parallel)
        print(f"parallel coordinates -> {parallel}")
    if args.register:
        run_id = best_run(runs)
        print(register_run(run_id).summary(run_id))


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
