"""A sweep of several keys as a parallel-coordinates figure: one vertical axis per swept key and
one for validation accuracy, one line per run, coloured by its accuracy.

Numbers that span a factor of ten or more (learning rates) sit on a log axis; values that are
not numbers (``model=mlp,cnn``, ``[128,64]``) are spaced evenly, in sorted order.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.io import atomic_file


@dataclass
class Axis:
    """Where each run's value of one key sits, from 0 (bottom) to 1 (top), and the ticks."""

    positions: list[float]
    ticks: list[tuple[float, str]]


def as_numbers(values: list[str]) -> list[float] | None:
    try:
        return [float(value) for value in values]
    except ValueError:
        return None


def spread(values: list[float], log: bool) -> list[float]:
    scaled = [math.log10(v) for v in values] if log else values
    low, high = min(scaled), max(scaled)
    return [0.5 if high == low else (v - low) / (high - low) for v in scaled]


def axis(values: list[str]) -> Axis:
    numbers = as_numbers(values)
    if numbers is not None and all(math.isfinite(v) for v in numbers):
        log = min(numbers) > 0 and max(numbers) / min(numbers) >= 10
        positions = spread(numbers, log)
        distinct = sorted(set(zip(numbers, values, strict=True)))
        ticks = [(spread([*numbers, n], log)[-1], text) for n, text in distinct]
        return Axis(positions, ticks)
    levels = sorted(set(values))
    place = {
        level: (0.5 if len(levels) == 1 else i / (len(levels) - 1))
        for i, level in enumerate(levels)
    }
    return Axis([place[v] for v in values], [(place[level], level) for level in levels])


def parallel_coordinates(runs: pd.DataFrame, keys: list[str], title: str, path: Path) -> None:
    """``runs``: MLflow's search_runs table; ``keys``: the swept parameters (two or more)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = runs.dropna(subset=["metrics.val_accuracy"])
    accuracy = scored["metrics.val_accuracy"].astype(float).tolist()
    axes_values = [scored[f"params.{key}"].astype(str).tolist() for key in keys]
    columns = [axis(values) for values in axes_values]
    columns.append(axis([f"{value:.4f}" for value in accuracy]))
    names = [*keys, "val_accuracy"]

    figure, plot = plt.subplots(figsize=(2.2 * len(names) + 1, 5))
    colours = plt.get_cmap("viridis")
    low, high = (min(accuracy), max(accuracy)) if accuracy else (0.0, 1.0)
    for row, value in enumerate(accuracy):
        shade = 0.5 if high == low else (value - low) / (high - low)
        ys = [column.positions[row] for column in columns]
        plot.plot(range(len(names)), ys, color=colours(shade), linewidth=2, alpha=0.85)
    for x, column in enumerate(columns):
        plot.axvline(x, color="grey", linewidth=1)
        for y, label in column.ticks:
            plot.text(x + 0.04, y, label, fontsize=8, va="center")
    plot.set_xticks(range(len(names)), names)
    plot.set_yticks([])
    plot.set_xlim(-0.2, len(names) - 0.6)
    plot.set_ylim(-0.05, 1.05)
    plot.set_title(title)
    for side in ("top", "right", "left"):
        plot.spines[side].set_visible(False)
    mappable = plt.cm.ScalarMappable(cmap=colours, norm=plt.Normalize(low, high))
    figure.colorbar(mappable, ax=plot, label="validation accuracy")
    figure.tight_layout()
    with atomic_file(path) as file:
        figure.savefig(file, format="png", dpi=120)
    plt.close(figure)
