"""``dynamics.png``: what happened inside each layer while it trained, from train's
``dynamics.csv`` (``epoch,layer,statistic,value``): a panel a statistic, a line a layer, across
epochs (scratchnn/dynamics.py says what each statistic is and what healthy looks like)."""

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# the panels, in reading order: (statistic, title, log scale)
PANELS = (
    ("update_ratio", "update / weight |Δθ|/|θ| (≈1e-3 is healthy)", True),
    ("grad_norm", "gradient norm |g|", True),
    ("weight_norm", "weight norm |θ|", False),
    ("mean", "output mean", False),
    ("std", "output standard deviation", False),
    ("dead_fraction", "dead ReLU units (never positive)", False),
    ("saturated_fraction", "saturated sigmoid/tanh outputs", False),
    ("running_mean", "batch norm: running mean", False),
    ("running_var", "batch norm: running variance", False),
    ("attention_entropy", "attention entropy (nats; ln T: even)", False),
)
COLUMNS = 3
HEALTHY_UPDATE_RATIO = 1e-3  # drawn as a dashed line: the rule of thumb (CS231n)


def dynamics_figure(table: pd.DataFrame, title: str) -> Figure:
    """The statistics of ``table`` that were measured, a panel each; one line per layer."""
    if table.empty:
        figure = Figure(figsize=(8, 1.5))
        figure.text(0.5, 0.5, "no per-layer statistics: train.diagnostics was off", ha="center")
        return figure
    panels = [panel for panel in PANELS if panel[0] in set(table["statistic"])]
    rows = math.ceil(len(panels) / COLUMNS)
    figure = Figure(figsize=(5 * COLUMNS, 3.3 * rows + 0.8))
    figure.suptitle(title)
    axes = figure.subplots(rows, COLUMNS, squeeze=False).ravel()
    layers = list(dict.fromkeys(table["layer"]))  # in the network's order
    colours = {layer: f"C{i % 10}" for i, layer in enumerate(layers)}
    epochs = table["epoch"].nunique()
    for ax, (statistic, panel_title, log) in zip(axes, panels, strict=False):
        rows_of = table[table["statistic"] == statistic]
        for layer, values in rows_of.groupby("layer", sort=False):
            ax.plot(
                values["epoch"],
                values["value"],
                marker="o" if epochs <= 30 else None,
                ms=3,
                color=colours[layer],
                label=layer,
            )
        if log and (rows_of["value"] > 0).all():
            ax.set_yscale("log")
        if statistic == "update_ratio":
            ax.axhline(HEALTHY_UPDATE_RATIO, color="grey", linestyle="--", linewidth=1)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    figure.subplots_adjust(
        left=0.06, right=0.99, bottom=0.08, top=1 - 0.6 / (3.3 * rows + 0.8), hspace=0.45
    )
    return figure
