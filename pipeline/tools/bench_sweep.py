"""``make bench-sweep``: a Hydra sweep run sequentially, then with the joblib launcher.

python -m pipeline.tools.bench_sweep                               # 4 learning rates x 20 epochs
python -m pipeline.tools.bench_sweep --values 0.001,0.002 train.epochs=5
python -m pipeline.tools.bench_sweep --n-jobs 2 --output other.json

Both sweeps are the same real ``python -m pipeline.tools.sweep -m optimizer.lr=...`` on the
project's prepared data (run ``make run`` first), timed from start to exit, so the ratio counts
everything a user waits for: Hydra, the loky workers' start-up, each job's MLflow run and its
evaluation. Runs go to a temporary MLflow store and a temporary sweep folder, never the project's.
The median epoch time of each mode (from the runs' logged ``epoch_seconds``) shows what running
two jobs at once, one BLAS thread each, costs each of them against one job on every core.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.cli import run_stage
from pipeline.config import PROJECT_ROOT
from pipeline.errors import PipelineError
from pipeline.io import write_json

DEFAULT_VALUES = "0.001,0.002,0.003,0.004"
DEFAULT_OUTPUT = "reports/bench_sweep.json"
EPOCH_SECONDS = re.compile(r"^epoch +\d+/\d+ .* (\d+\.\d+)s$", re.MULTILINE)


def sweep_command(values: str, n_jobs: int, overrides: Sequence[str], sweep_dir: Path) -> list:
    """The sweep a user would type; ``n_jobs`` > 1 selects the joblib launcher."""
    command = [sys.executable, "-m", "pipeline.tools.sweep", "-m", f"optimizer.lr={values}"]
    if n_jobs > 1:
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"]
    return [*command, *overrides, f"hydra.sweep.dir={sweep_dir}"]


def epoch_seconds(output: str) -> list[float]:
    """The per-epoch seconds ``train`` prints at the end of each progress line."""
    return [float(seconds) for seconds in EPOCH_SECONDS.findall(output)]


def logged_epoch_seconds(store: Path, sweep_dir: Path) -> list[float]:
    """Every epoch's seconds as the sweep's jobs logged them (``epoch_seconds``, to the
    microsecond: the progress lines round to 0.1 s, which turned 0.44 s and 0.46 s into a 25 %
    difference)."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    where = f"tags.`sweep.dir` = '{sweep_dir.resolve()}'"
    jobs = [
        run
        for run in client.search_runs(experiments, filter_string=where, max_results=1000)
        if "sweep.parent" not in run.data.tags
    ]
    return [
        metric.value
        for run in jobs
        for metric in client.get_metric_history(run.info.run_id, "epoch_seconds")
    ]


def timed_sweep(command: list[str], store: Path, sweep_dir: Path) -> dict[str, Any]:
    """``command`` (a sweep into ``sweep_dir``, logging to ``store``) timed from start to exit."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise PipelineError(f"{' '.join(command)} failed:\n{result.stderr.strip()[-3000:]}")
    epochs = logged_epoch_seconds(store, sweep_dir) or epoch_seconds(result.stdout)
    return {
        "command": " ".join(command[1:]),
        "seconds": seconds,
        "epochs": len(epochs),
        "median_epoch_seconds": statistics.median(epochs) if epochs else None,
    }


def summary(sequential: dict[str, Any], parallel: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {
        "sequential": sequential,
        "parallel": parallel,
        "speedup": sequential["seconds"] / parallel["seconds"],
    }
    if sequential["median_epoch_seconds"] and parallel["median_epoch_seconds"]:
        results["epoch_slowdown_in_parallel"] = (
            parallel["median_epoch_seconds"] / sequential["median_epoch_seconds"]
        )
    return results


def report(results: dict[str, Any]) -> str:
    lines = []
    for mode in ("sequential", "parallel"):
        run = results[mode]
        median = run["median_epoch_seconds"]
        lines.append(
            f"{mode:<10}  {run['seconds']:6.1f} s  ({run['epochs']} epochs, median "
            f"{median if median is None else f'{median:.2f} s'} each)  {run['command']}"
        )
    lines.append(f"speed-up: {results['speedup']:.2f}x")
    if "epoch_slowdown_in_parallel" in results:
        lines.append(
            f"an epoch of a parallel job (one BLAS thread, another job beside it) takes "
            f"{results['epoch_slowdown_in_parallel']:.2f}x as long as a sequential one (every core)"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench_sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--values", default=DEFAULT_VALUES, help="the learning rates swept")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel jobs (joblib)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / DEFAULT_OUTPUT)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every job")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        runs = {}
        for mode, n_jobs in (("sequential", 1), ("parallel", args.n_jobs)):
            command = sweep_command(args.values, n_jobs, args.overrides, folder / mode)
            print(f"{mode}: {' '.join(command[1:])}", flush=True)
            runs[mode] = timed_sweep(command, folder / "mlflow.db", folder / mode)
    results = summary(runs["sequential"], runs["parallel"])
    results["load_average_after"] = os.getloadavg()[0]
    print(report(results))
    write_json(args.output, results)
    print(f"bench_sweep: results -> {args.output}")


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
