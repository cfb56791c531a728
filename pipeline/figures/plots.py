"""The figures ``evaluate`` writes as PNG: confusion matrix, misclassified images, training curves.

Drawn with matplotlib's object API (``Figure``, rendered by Agg): no pyplot, no global state and
no display needed; on fixed margins (constrained layout cost 0.4 s of every evaluation). Each
``*_figure`` function returns a Figure; ``save_png`` writes it atomically. PNGs carry no
software-version metadata, so the same inputs give the same bytes.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from pipeline.data.catalog import MNIST, Dataset
from pipeline.io import atomic_file

IMAGE_SIDE = 28  # MNIST pixels are stored row by row: row r is pixels[28 * r : 28 * (r + 1)]
DPI = 100


def save_png(figure: Figure, path: str | Path) -> None:
    with atomic_file(path) as file:
        figure.savefig(file, format="png", dpi=DPI, metadata={"Software": None})


def confusion_figure(confusion: np.ndarray, title: str, dataset: Dataset = MNIST) -> Figure:
    """Heatmap of a (10, 10) confusion matrix (rows: true class, columns: predicted), every
    cell annotated with its count, the axes named by ``dataset``'s classes. The colours are on a
    log scale: the diagonal holds ~1,000 images per class and the mistakes a handful, which a
    linear scale would paint all alike."""
    n = len(confusion)
    figure = Figure(figsize=(7.2, 6.2))
    ax = figure.add_subplot()
    counts = np.ma.masked_equal(confusion, 0)  # zero cells stay white
    norm = LogNorm(vmin=1, vmax=max(int(confusion.max()), 2))
    image = ax.imshow(counts, cmap="Blues", norm=norm)
    figure.colorbar(image, ax=ax, label="images (log scale)", shrink=0.85)
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            dark = norm(count) > 0.6
            ax.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
                fontweight="bold" if row == col else "normal",
            )
    names = dataset.classes[:n]
    long_names = max(map(len, names)) > 2
    ax.set_xticks(
        range(n), names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_yticks(range(n), names)
    ax.set_xlabel(f"predicted {dataset.noun}")
    ax.set_ylabel(f"true {dataset.noun}")
    ax.set_title(title)
    margin = 0.19 if long_names else 0.08  # room for the names
    figure.subplots_adjust(left=margin, right=0.98, bottom=margin, top=0.93)
    return figure


def most_confident_mistakes(
    labels: np.ndarray, probabilities: np.ndarray, count: int
) -> np.ndarray:
    """Indices of up to ``count`` misclassified rows, the most confident (highest probability
    given to the wrong predicted class) first; ties keep the data's order."""
    predicted = np.argmax(probabilities, axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def mosaic(tiles: np.ndarray, columns: int, gap: tuple[int, int] = (1, 1)) -> np.ma.MaskedArray:
    """(n, h, w) tiles as one image, ``columns`` to a row, left to right then top to bottom,
    with ``gap`` = (rows, columns) of masked pixels between them: one image on one Axes draws
    in a fraction of the time of an Axes per tile."""
    n, height, width = tiles.shape
    rows = max(1, -(-n // columns))
    gap_y, gap_x = gap
    shape = (rows * (height + gap_y) - gap_y, columns * (width + gap_x) - gap_x)
    image = np.ma.masked_array(np.zeros(shape), mask=True)
    for i, tile in enumerate(tiles):
        top, left = tile_origin(i, columns, (height, width), gap)
        image[top : top + height, left : left + width] = tile
    return image


def show_mosaic(ax, tiles: np.ndarray, columns: int, gap: tuple[int, int], **style) -> None:
    """``mosaic(tiles, columns, gap)`` drawn on ``ax`` pixel for pixel (``style``: imshow's
    colour settings), with a gap's height of room above the first row for its labels, which
    ``tile_origin`` places."""
    grid = mosaic(tiles, columns, gap)
    ax.imshow(grid, interpolation="nearest", aspect="auto", **style)
    ax.set_xlim(-0.5, grid.shape[1] - 0.5)
    ax.set_ylim(grid.shape[0] - 0.5, -gap[0] - 0.5)


def tile_origin(i: int, columns: int, shape: tuple[int, int], gap: tuple[int, int]) -> tuple:
    """The (row, column) pixel of tile ``i``'s top left corner in ``mosaic``'s image."""
    row, column = divmod(i, columns)
    return row * (shape[0] + gap[0]), column * (shape[1] + gap[1])


MISTAKE_GAP = (11, 4)  # pixels between the tiles: room for each image's two-line title


def misclassified_figure(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    title: str,
    count: int = 24,
    columns: int = 8,
    dataset: Dataset = MNIST,
) -> Figure:
    """A grid of the ``count`` most confidently misclassified images (rows of 784 pixels in
    [0, 1]), each titled with its true class, the prediction (``dataset``'s names) and the
    probability given to it.
    Ink is drawn dark on white, on a fixed 0..1 scale (no per-image contrast stretch). The grid
    is one image (``mosaic``) with the titles as text above each tile."""
    chosen = most_confident_mistakes(labels, probabilities, count)
    rows = max(1, -(-len(chosen) // columns))
    figure = Figure(figsize=(1.3 * columns, 1.55 * rows + 0.5))
    figure.suptitle(title)
    ax = figure.add_subplot()
    ax.set_axis_off()
    if not len(chosen):
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return figure
    side = (IMAGE_SIDE, IMAGE_SIDE)
    tiles = images[chosen].reshape(-1, *side)
    show_mosaic(ax, tiles, columns, MISTAKE_GAP, cmap="gray_r", vmin=0.0, vmax=1.0)
    names = dataset.classes
    short = max(map(len, names)) <= 2  # digits: "true 4 → 9"; else "Shirt → T-shirt/top", smaller
    for i, index in enumerate(chosen):
        predicted = int(np.argmax(probabilities[index]))
        top, left = tile_origin(i, columns, side, MISTAKE_GAP)
        ax.text(
            left + IMAGE_SIDE / 2 - 0.5,
            top - 1.5,
            f"{'true ' if short else ''}{names[labels[index]]} → {names[predicted]}\n"
            f"{probabilities[index, predicted]:.1%}  #{index}",
            fontsize=9 if short else 7,
            ha="center",
            va="bottom",
        )
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / (1.55 * rows + 0.5))
    return figure


def training_curves_figure(history: pd.DataFrame, title: str) -> Figure:
    """Loss and accuracy (train vs validation) and the learning rate, per epoch, from the
    ``history.csv`` that ``train`` writes (columns epoch, lr, train_loss, train_accuracy,
    val_loss, val_accuracy)."""
    figure = Figure(figsize=(13, 3.8))
    figure.suptitle(title)
    loss_ax, accuracy_ax, lr_ax = figure.subplots(1, 3)
    epochs = history["epoch"]
    marker = "o" if len(history) <= 30 else None
    for split, style in (("train", "-"), ("val", "--")):
        name = "train" if split == "train" else "validation"
        loss_ax.plot(epochs, history[f"{split}_loss"], style, marker=marker, ms=3, label=name)
        accuracy_ax.plot(
            epochs, 100 * history[f"{split}_accuracy"], style, marker=marker, ms=3, label=name
        )
    loss_ax.set_yscale("log")
    loss_ax.set_title("loss")
    loss_ax.set_ylabel("cross-entropy (log scale)")
    accuracy_ax.set_title("accuracy")
    accuracy_ax.set_ylabel("accuracy (%)")
    lr_ax.plot(epochs, history["lr"], color="tab:green", marker=marker, ms=3)
    lr_ax.set_title("learning rate")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_ylim(bottom=0)
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    for ax in (loss_ax, accuracy_ax, lr_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    loss_ax.legend()
    accuracy_ax.legend()
    figure.subplots_adjust(left=0.075, right=0.99, bottom=0.14, top=0.83, wspace=0.3)
    return figure
