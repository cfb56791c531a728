"""Stage ``predict``: a class for every row of a CSV, as a Kaggle submission; or for one image.

    python -m pipeline.stages.predict                        # params.yaml's test CSV and model
    python -m pipeline.stages.predict --csv FILE --model M --output submission.csv
    python -m pipeline.stages.predict --image digit.png [--model M] [--save-input seen.png]
    python -m pipeline.stages.predict --image shoe.png --dataset fashion_mnist

A CSV is any file of 784 pixel columns (0-255) in a layout ``prepare`` reads; a ``label``
column, if present, is ignored for the submission and used to print the accuracy. The
submission has the header ``ImageId,Label``, ImageId counting rows from 1 (Kaggle's Digit
Recognizer format); for a dataset whose classes are not the digits (``--dataset``, by default
params.yaml's ``data.name``), a third column ``Class`` names each one (``Sneaker``...).
``--model`` takes an ``.npz`` from ``train``, a folder in the original script's layout
(``layer1_weights.npy`` ...), or an MLflow model URI (``models:/neuralscratch@champion``,
``runs:/<id>/model``: only its weights are read, none of its code runs); the model's own dtype
is used.

An image is turned into what the network was trained on, white ink on black, 28x28 (see
``image_to_pixels``), and the prediction printed with the top-3 probabilities, by class name.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

import scratchnn as sn
from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, load_params
from pipeline.data.artifacts import SUBMISSION_FILE
from pipeline.data.catalog import DATASETS, MNIST, Dataset
from pipeline.data.digit_frame import SIDE, frame_digit
from pipeline.data.image_csv import DataError, normalise, read_digits_csv
from pipeline.io import atomic_file, write_text
from pipeline.network.models import load_model, probabilities
from pipeline.tracking.model_uri import is_model_uri, weights_from_uri


def submission_csv(predicted: np.ndarray, data: Dataset = MNIST) -> str:
    """``ImageId,Label`` rows, ImageId = 1, 2, ... in the input's row order; and ``Class``, the
    class's name, when ``data``'s classes are not the digits."""
    if data.classes == MNIST.classes:
        rows = [f"{i},{label}" for i, label in enumerate(predicted.tolist(), start=1)]
        return "\n".join(["ImageId,Label", *rows]) + "\n"
    names = [f'"{name}"' if "," in name else name for name in data.classes]
    rows = [f"{i},{label},{names[label]}" for i, label in enumerate(predicted.tolist(), start=1)]
    return "\n".join(["ImageId,Label,Class", *rows]) + "\n"


def load_network(model: str | Path) -> sn.Network:
    """A file or folder of weights, or an MLflow model URI (``models:/neuralscratch@champion``,
    ``runs:/<id>/model``), of which only the weights are read."""
    return weights_from_uri(str(model)) if is_model_uri(model) else load_model(model)


def predict_csv(
    csv: str | Path, model: str | Path, output: str | Path, data: Dataset = MNIST
) -> str:
    """Predict every row of ``csv``, write the submission to ``output``; return a summary."""
    network = load_network(model)
    digits = read_digits_csv(csv, require_labels=False)
    predicted = network.predict(normalise(digits.pixels, network.dtype))
    write_text(output, submission_csv(predicted, data), "the submission")
    summary = f"predict: {len(predicted):,} images of {csv} -> {output} (model {model})"
    if digits.labels is not None:
        summary += f"; the CSV has labels: accuracy {sn.accuracy(predicted, digits.labels):.2%}"
    return summary


def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def image_to_pixels(image: Image.Image) -> np.ndarray:
    """An image as the network's input: (784,) float64 in [0, 1], white ink on black.

    - Colour is converted to grey (luma). A transparent background is background: where the
      image has transparency, the ink is its opacity (so a stroke drawn on a transparent canvas
      works whatever its colour).
    - Polarity: MNIST digits are light on dark. If the image's border is mostly light (the
      median of its outermost pixels is above one half) it is taken as dark ink on light paper
      and inverted.
    - A 28x28 image is then used as it is. Any other size is brought to MNIST's framing: the
      background level is subtracted and the contrast stretched to 0..1, the ink's bounding
      box is cropped, scaled (Lanczos) so its longer side is 20 pixels, and placed in a 28x28
      black frame with its centre of mass at the centre, as MNIST's digits were.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float64) / 255
        has_alpha = bool(alpha.min() < 1.0)
    if has_alpha:
        grey = alpha
    else:
        levels = np.asarray(image.convert("L"), dtype=np.int64)
        if np.median(_border(levels)) > 127:
            levels = 255 - levels  # in integers: exactly the pixels of the inverted image
        grey = levels / 255
    if grey.shape == (SIDE, SIDE):
        return grey.reshape(-1)
    return frame_digit(grey, background=float(np.median(_border(grey)))).reshape(-1)


def read_image(path: str | Path) -> np.ndarray:
    """``image_to_pixels`` of the image file at ``path``; unreadable files name the path."""
    try:
        with Image.open(path) as image:
            image.load()
            return image_to_pixels(image)
    except FileNotFoundError:
        raise DataError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from None
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def predict_image(
    image: str | Path, model: str | Path, top: int = 3, data: Dataset = MNIST
) -> tuple[int, str]:
    """The predicted class and a report with the ``top`` probabilities, by ``data``'s names."""
    network = load_network(model)
    pixels = read_image(image).astype(network.dtype)
    p = probabilities(network, pixels[None, :])[0]
    best = np.argsort(-p, kind="stable")[:top]
    names = data.classes
    width = max(len(names[i]) for i in best)
    lines = [f"{image}: {names[best[0]]}", f"top {top}:"]
    lines += [f"  {names[i]:<{width}}  {p[i]:7.2%}" for i in best]
    return int(best[0]), "\n".join(lines)


def save_input(pixels: np.ndarray, path: str | Path) -> None:
    """The 28x28 the network sees, as a grey PNG (white ink on black, 1:1 pixels)."""
    image = Image.fromarray(np.round(pixels.reshape(SIDE, SIDE) * 255).astype(np.uint8), "L")
    with atomic_file(path) as file:
        image.save(file, format="PNG")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.stages.predict",
        description="Predict classes: a submission CSV for a CSV of pixel rows, or one image.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--csv", help="784 pixel columns per row (default: params data.test_csv)")
    source.add_argument("--image", help="a PNG/JPEG of one image; prints the top-3 guesses")
    parser.add_argument(
        "--model",
        help="an .npz, a folder of layer*.npy, or an MLflow model URI: models:/NAME@ALIAS, "
        "runs:/RUN_ID/model (default: params paths.model)",
    )
    parser.add_argument(
        "--output", help=f"the submission CSV (default: <params paths.reports>/{SUBMISSION_FILE})"
    )
    parser.add_argument("--save-input", help="with --image: write the 28x28 the network sees")
    parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        help="whose class names to print and write (default: params data.name if there is a "
        f"{PARAMS_FILE}, else mnist)",
    )
    args = parser.parse_args(argv)
    if args.image is None and args.save_input is not None:
        parser.error("--save-input goes with --image")
    if args.image is not None and args.output is not None:
        parser.error("--output goes with --csv: --image prints its prediction")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    needs_params = args.model is None or (
        args.image is None and (args.csv is None or args.output is None)
    )
    needs_params |= args.dataset is None and Path(PARAMS_FILE).is_file()
    cfg = load_params() if needs_params else None
    model = args.model or cfg.paths.model
    name = args.dataset or (cfg.data.name.value if cfg is not None else MNIST.name)
    data = DATASETS[name]
    if args.image is not None:
        _, report = predict_image(args.image, model, data=data)
        print(report)
        if args.save_input:
            save_input(read_image(args.image), args.save_input)
        return
    csv = args.csv or cfg.data.test_csv
    output = args.output or Path(cfg.paths.reports) / SUBMISSION_FILE
    print(predict_csv(csv, model, output, data))


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
