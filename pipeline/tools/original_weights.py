"""The original script's weights layout: evaluate such a folder, or export a trained model to it.

    python -m pipeline.tools.original_weights evaluate examples/original_weights
    python -m pipeline.tools.original_weights export exported/        # params paths.model -> layout

The layout is a folder of ``layer{i}_weights.npy`` (n_in, n_out) and ``layer{i}_biases.npy``
(1, n_out), read and written by ``scratchnn.serialization``. ``evaluate`` loads them exactly as
stored (the original's are float64) and runs the same code as the ``evaluate`` stage on the
prepared data, writing its reports to ``--reports`` (default ``outputs/original``, git-ignored)
so the pipeline's own ``reports/`` stay untouched.
"""

import argparse
import dataclasses
import json
from pathlib import Path

from pipeline.cli import run_stage
from pipeline.config import Config, PipelineError, load_params
from pipeline.data.artifacts import METRICS_FILE
from pipeline.io import atomic_dir
from pipeline.network.models import load_model
from pipeline.stages.evaluate import evaluate
from scratchnn.errors import WeightsError
from scratchnn.original_layout import check_relu_mlp
from scratchnn.serialization import save_layer_files, weight_arrays

DEFAULT_REPORTS = "outputs/original"


def evaluate_folder(cfg: Config, weights: str | Path, reports: str | Path) -> tuple[dict, str]:
    """``evaluate`` on the weights in ``weights`` (either format), reports into ``reports``."""
    network = load_model(weights)
    cfg = dataclasses.replace(cfg, paths=dataclasses.replace(cfg.paths, reports=str(reports)))
    return evaluate(cfg, network)


def comparison(cfg: Config, metrics: dict) -> str:
    """One line set beside the pipeline's own model, if its metrics are there."""
    trained = Path(cfg.paths.reports) / METRICS_FILE
    split = metrics["evaluated_on"]
    key = "test" if split == "test" else "val"
    if not trained.is_file():
        return ""
    ours = json.loads(trained.read_text()).get(key)
    if not ours:
        return ""
    return (
        f"{split} accuracy: these weights {metrics[key]['accuracy']:.2%}, "
        f"the pipeline's model ({cfg.paths.model}) {ours['accuracy']:.2%}"
    )


def export(model: str | Path, folder: str | Path) -> list[str]:
    """Write ``model`` (either format) into ``folder`` in the original layout, atomically.

    ``folder`` is replaced whole, so it must be new, empty, or hold only layer files."""
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            raise PipelineError(f"{folder}: exists and is not a folder")
        others = [p.name for p in folder.iterdir() if not p.name.startswith("layer")]
        if others:
            raise PipelineError(
                f"{folder}: holds other files ({', '.join(sorted(others)[:3])}); "
                "export into a new or empty folder"
            )
    network = load_model(model)
    try:
        check_relu_mlp(network)
    except WeightsError as error:
        raise PipelineError(f"{model}: {error}") from None
    with atomic_dir(folder) as tmp:
        written = save_layer_files(network, tmp)
    return [
        f"{path.name} {arrays.shape} {arrays.dtype}"
        for path, arrays in zip(written, weight_arrays(network).values(), strict=True)
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.original_weights",
        description="Evaluate weights in the original per-layer .npy layout, or export to it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ev = commands.add_parser("evaluate", help="evaluate a folder of layer*.npy on the test set")
    ev.add_argument("weights", help="e.g. examples/original_weights")
    ev.add_argument("--reports", default=DEFAULT_REPORTS, help="where the report files go")
    ex = commands.add_parser("export", help="write a trained model as layer*.npy files")
    ex.add_argument("folder", help="the folder to write (new, empty or only layer files)")
    ex.add_argument("--model", help="the model to export (default: params paths.model)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "export":
        model = args.model or load_params().paths.model
        print(f"export: {model} -> {args.folder}: " + ", ".join(export(model, args.folder)))
        return
    cfg = load_params()
    metrics, report = evaluate_folder(cfg, args.weights, args.reports)
    print(report, end="")
    print(f"\nreports -> {args.reports}")
    if line := comparison(cfg, metrics):
        print(line)


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
