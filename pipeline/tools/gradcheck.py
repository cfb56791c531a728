"""Check the configured network's gradients against central differences, layer by layer.

python -m pipeline.tools.gradcheck                    # the default recipe's network
python -m pipeline.tools.gradcheck experiment=cnn     # any Hydra overrides: model=, experiment=
python -m pipeline.tools.gradcheck --images 8 --samples 20

The network is built as training builds it (any ``model.layers``, including a layer you added
to scratchnn), but in float64, and run on a few real images: the prepared training split if
``prepare`` ran, else the first rows of ``data.train_csv``. Each layer alone, then the whole
network with its loss: the largest relative error of each parameter array and of the input.
Exit 1 when one is above the threshold, naming the layers that fail (scratchnn/gradcheck.py
explains the method).
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from pipeline.cli import run_stage
from pipeline.config import Config, DType, compose, validate
from pipeline.data.artifacts import N_CLASSES, load_split
from pipeline.data.image_csv import normalise, read_digits_csv
from pipeline.errors import PipelineError
from pipeline.network.factory import build_network, check_model
from scratchnn.gradcheck import THRESHOLD, ArrayCheck, GradientCheck, failing_layers


class GradientCheckFailed(PipelineError):
    """An analytic gradient disagrees with the central differences."""


def some_images(cfg: Config, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` training images (n, 784) in [0, 1] as float64, their labels, and where they came
    from: the prepared split if there is one, else the training CSV."""
    prepared = Path(cfg.paths.prepared)
    if (prepared / "train_x.npy").is_file():
        x, y = load_split(prepared, "train")
        assert y is not None
        return x[:n].astype(np.float64), y[:n], str(prepared)
    csv = Path(cfg.data.train_csv)
    if not csv.is_file():
        raise PipelineError(
            f"no images to check on: neither {prepared}/train_x.npy (run `dvc repro prepare`) "
            f"nor the CSV {csv} (data.train_csv; `dvc repro fetch` downloads MNIST)"
        )
    digits = read_digits_csv(csv, require_labels=True)
    assert digits.labels is not None
    return normalise(digits.pixels[:n], np.dtype(np.float64)), digits.labels[:n], str(csv)


def table(checks: list[ArrayCheck], threshold: float) -> str:
    """One line per array: the layer, the array, its largest relative error, how many
    coordinates, and FAIL where it is above ``threshold``."""
    lines = []
    for alone in (True, False):
        lines.append(
            "each layer alone, f = sum(R * layer(x)) for a random R:"
            if alone
            else "the whole network, f = its loss on these images:"
        )
        last = ""
        for check in (c for c in checks if c.alone == alone):
            layer = check.layer if check.layer != last else ""
            last = check.layer
            mark = "  FAIL" if check.error > threshold else ""
            kinks = f", {check.kinks} at a kink" if check.kinks else ""
            lines.append(
                f"  {layer:<28} {check.array:<22} {check.error:9.1e}  "
                f"({check.checked} coordinates{kinks}){mark}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.gradcheck",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=cnn")
    parser.add_argument("--images", type=int, default=4, help="how many images (default 4)")
    parser.add_argument(
        "--samples", type=int, default=12, help="coordinates checked per array (default 12)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"the largest relative error that passes (default {THRESHOLD:g})",
    )
    args = parser.parse_args()
    if args.images < 1 or args.samples < 1:
        raise PipelineError("--images and --samples must be at least 1")
    cfg = validate(compose(args.overrides))
    check_model(cfg, source="")
    cfg = dataclasses.replace(cfg, dtype=DType.float64)
    x, y, source = some_images(cfg, args.images)
    network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
    print(
        f"gradient check: {len(x)} images from {source}, float64, "
        f"up to {args.samples} coordinates per array, threshold {args.threshold:g}"
    )
    checks = GradientCheck(network, x, y, args.samples, threshold=args.threshold).run()
    print(table(checks, args.threshold))
    worst = max(check.error for check in checks)
    failing = failing_layers(checks, args.threshold)
    if failing:
        raise GradientCheckFailed(
            f"gradient check failed (largest relative error {worst:.1e} > {args.threshold:g}) "
            f"in: {', '.join(failing)}"
        )
    print(f"passed: the largest relative error is {worst:.1e} <= {args.threshold:g}")


def run() -> None:
    run_stage(main)


if __name__ == "__main__":
    run()
