"""``make bench-recipes``: what each recipe of ``conf/experiment/`` reaches, and what it costs.

python -m pipeline.tools.bench_recipes                         # every recipe of DEFAULT_RECIPES
python -m pipeline.tools.bench_recipes --recipes cnn           # one of them
python -m pipeline.tools.bench_recipes --recipes mlp_best,cnn train.epochs=2 --output other.json
python -m pipeline.tools.bench_recipes --recipes vit --models examples/models   # keep the weights

Each recipe runs as a one-job ``python -m pipeline.tools.sweep -m experiment=<name>`` on the
project's prepared data (run ``make run`` first; the Fashion-MNIST recipes prepare their own
from ``data/raw/fashion_mnist_*.csv``: run ``dvc exp run -S data=fashion_mnist`` first): the
same ``train`` and ``evaluate`` as ``dvc exp run -S experiment=<name>``, with the same weights,
into a temporary sweep folder and a temporary MLflow store, never the project's. For each: the
test accuracy on the official 10,000 images, the epochs' own seconds (validation included) and
the peak memory of the largest process. Writes ``reports/recipes.json``, replacing the rows of
the recipes it ran and keeping the others; the README's recipe table quotes it, and
``tests/test_readme_numbers.py`` checks that it does. ``--models DIR`` keeps each recipe's
trained weights as ``DIR/<recipe>.npz`` (the model zoo, ``examples/models/``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cli import run_stage
from pipeline.config import PROJECT_ROOT
from pipeline.errors import PipelineError
from pipeline.io import atomic_file, write_json
from pipeline.tools.bench_sweep import epoch_seconds

DEFAULT_RECIPES = ("mlp_best", "cnn", "cnn_augmented", "fashion", "fashion_mlp", "fashion_cnn")
DEFAULT_OUTPUT = "reports/recipes.json"


def recipe_command(recipe: str, overrides: Sequence[str], sweep_dir: Path) -> list[str]:
    """The recipe as a one-job sweep, the way a user would type it."""
    return [
        sys.executable, "-m", "pipeline.tools.sweep", "-m", f"experiment={recipe}",
        *overrides, f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run ``command``; its output, its wall-clock seconds and the peak resident bytes of its
    largest process (``wait4`` reports that child's own rusage, its waited-for children
    included)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise PipelineError(f"{' '.join(command[1:])} exited {process.returncode}:\n{text[-3000:]}")
    return text, seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def job_metrics(sweep_dir: Path) -> dict[str, Any]:
    """The one job's ``reports/metrics.json``."""
    (metrics_file,) = sweep_dir.glob("*/reports/metrics.json")
    return json.loads(metrics_file.read_text())


def keep_model(sweep_dir: Path, destination: Path) -> None:
    """The one job's trained weights as ``destination``: the same arrays, zip-compressed (the
    zoo's files live in git), written to a temp file that takes its place only when whole."""
    (model_file,) = sweep_dir.glob("*/model.npz")
    with (
        np.load(model_file, allow_pickle=False) as weights,
        atomic_file(destination, what="the recipe's weights") as file,
    ):
        np.savez_compressed(file, **weights)


def measure_recipe(
    recipe: str, overrides: Sequence[str], folder: Path, models: Path | None = None
) -> dict[str, Any]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    load_before = round(os.getloadavg()[0], 1)
    sweep_dir = folder / recipe
    command = recipe_command(recipe, overrides, sweep_dir)
    output, seconds, peak_bytes = run_measured(command, env)
    epochs = epoch_seconds(output)
    test = job_metrics(sweep_dir)["test"]
    if models is not None:
        keep_model(sweep_dir, models / f"{recipe}.npz")
    return {
        "command": " ".join(command[1:-1]),
        "test_accuracy": test["accuracy"],
        "test_n": test["n"],
        "epochs": len(epochs),
        "training_seconds": round(sum(epochs), 1),
        "median_epoch_seconds": sorted(epochs)[len(epochs) // 2] if epochs else None,
        "wall_seconds": round(seconds, 1),
        "peak_memory_gb": round(peak_bytes / 1e9, 2),
        "load_average_before": load_before,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"),
    }


def report_line(recipe: str, result: dict[str, Any]) -> str:
    return (
        f"{recipe:<14} test accuracy {result['test_accuracy']:.2%}  {result['epochs']} epochs "
        f"of {result['median_epoch_seconds']:.1f} s ({result['training_seconds'] / 60:.1f} min)"
        f"  peak {result['peak_memory_gb']:.2f} GB  {result['wall_seconds']:.0f} s in all"
    )


def recipe_names(text: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]``, each a file of ``conf/experiment/``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not (PROJECT_ROOT / "conf" / "experiment" / f"{name}.yaml").is_file():
            raise argparse.ArgumentTypeError(f"conf/experiment/{name}.yaml: no such recipe")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench_recipes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--recipes",
        type=recipe_names,
        default=list(DEFAULT_RECIPES),
        help=f"comma-separated names in conf/experiment/ (default: {','.join(DEFAULT_RECIPES)})",
    )
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / DEFAULT_OUTPUT)
    parser.add_argument(
        "--models", type=Path, default=None, help="keep each recipe's weights as DIR/<recipe>.npz"
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every recipe")
    return parser.parse_args(argv)


def earlier_rows(output: Path) -> dict[str, Any]:
    """The recipes an earlier run of the bench measured, to keep beside this run's."""
    if not output.is_file():
        return {}
    try:
        earlier = json.loads(output.read_text())
    except json.JSONDecodeError as error:
        raise PipelineError(f"{output}: not JSON ({error}); move it away to start afresh") from None
    return {name: row for name, row in earlier.items() if isinstance(row, dict)}


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    results: dict[str, Any] = {"load_average_before": round(os.getloadavg()[0], 1)}
    results.update(earlier_rows(args.output))
    with tempfile.TemporaryDirectory(prefix="bench-recipes-") as tmp:
        for recipe in args.recipes:
            print(f"{recipe}: python -m pipeline.tools.sweep -m experiment={recipe}", flush=True)
            results[recipe] = measure_recipe(recipe, args.overrides, Path(tmp), args.models)
            print(report_line(recipe, results[recipe]), flush=True)
    results["load_average_after"] = round(os.getloadavg()[0], 1)
    write_json(args.output, results)
    print(f"bench_recipes: results -> {args.output}")


def run() -> None:
    """Errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
