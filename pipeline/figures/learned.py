"""What the network learned, drawn for a learner: the first layer's weights, and what every
layer makes of one test image.

- ``first_layer_figure``: a dense first layer's 784 input weights of each unit as a 28x28 tile
  (the "templates" it matches), or a first convolution's kernels, one tile per filter (the
  strokes and edges it looks for). Blue is negative, red positive, white zero, each tile on its
  own symmetric scale.
- ``activations_figure``: one image through the network, layer by layer in evaluation mode:
  feature maps of convolutional layers (the first channels) as small images, flat layers as
  a bar of their values, the last as the class probabilities.
"""

import math

import numpy as np
from matplotlib.figure import Figure

import scratchnn as sn
from pipeline.data.catalog import MNIST, Dataset
from pipeline.figures import plots

IMAGE_SIDE = 28
MAX_TILES = 32  # units or filters drawn of the first layer
MAX_MAPS = 8  # feature maps drawn per convolutional layer


def first_layer_weights(network: sn.Network) -> tuple[str, np.ndarray]:
    """``(kind, tiles)``: the first layer with weights, as (n, h, w) tiles (one per unit or
    filter, at most ``MAX_TILES``). A convolution's kernels are averaged over input channels."""
    for i, layer in enumerate(network.layers):
        if isinstance(layer, sn.Conv2D):
            kernels = np.asarray(layer.W, dtype=np.float64)  # (k, k, c_in, filters)
            tiles = kernels.mean(axis=2).transpose(2, 0, 1)  # (filters, k, k)
            return f"layers[{i}]: conv2d kernels {layer.kernel}x{layer.kernel}", tiles[:MAX_TILES]
        if isinstance(layer, sn.Dense):
            weights = np.asarray(layer.W, dtype=np.float64)  # (n_in, units)
            side = math.isqrt(weights.shape[0])
            if side * side != weights.shape[0]:
                break
            tiles = weights.T.reshape(-1, side, side)  # (units, 28, 28)
            return f"layers[{i}]: dense, each unit's {weights.shape[0]} input weights", tiles[
                :MAX_TILES
            ]
    raise ValueError("the network's first layer with weights is neither conv2d nor dense")


def first_layer_figure(network: sn.Network, columns: int = 8) -> Figure:
    """The tiles of ``first_layer_weights`` as one image (``plots.mosaic``), each tile divided
    by its largest magnitude, so that every tile spans the colour scale's -1..1 on its own."""
    title, tiles = first_layer_weights(network)
    rows = -(-len(tiles) // columns)
    figure = Figure(figsize=(1.2 * columns, 1.25 * rows + 0.6))
    figure.suptitle(f"What the first layer learned ({title})", fontsize=10)
    scales = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    side = tiles.shape[1:]
    gap = (max(1, round(side[0] * 0.22)), max(1, round(side[1] * 0.1)))
    ax = figure.add_subplot()
    ax.set_axis_off()
    normalised = tiles / np.where(scales > 0, scales, 1.0)
    plots.show_mosaic(ax, normalised, columns, gap, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    for n in range(len(tiles)):
        top, left = plots.tile_origin(n, columns, side, gap)
        ax.text(left + side[1] / 2 - 0.5, top - 0.6, str(n), fontsize=7, ha="center", va="bottom")
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88)
    return figure


def layer_outputs(network: sn.Network, image: np.ndarray) -> list[np.ndarray]:
    """The output of every layer for one image (784,), in evaluation mode, each copied (layers
    reuse their buffers and some work in place)."""
    x = image.reshape(1, *network.input_shape).astype(network.dtype)
    outputs = []
    for layer in network.layers:
        x = layer.forward(x, False, None)
        outputs.append(np.array(x[0], dtype=np.float64))
    return outputs


def activations_figure(
    network: sn.Network, image: np.ndarray, label: int | None, dataset: Dataset = MNIST
) -> Figure:
    """``image`` (784,) in [0, 1] and what each layer makes of it (see the module), its
    classes named as ``dataset`` names them."""
    outputs = layer_outputs(network, image)
    logits = outputs[-1]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    rows = len(outputs) + 1
    figure = Figure(figsize=(10, 0.95 * rows + 0.5))
    names = dataset.classes
    truth = "" if label is None else f", true {dataset.noun} {names[label]}"
    figure.suptitle(
        f"One test image through the network{truth}: predicted {names[int(np.argmax(logits))]}",
        fontsize=10,
    )
    grid = figure.add_gridspec(rows, MAX_MAPS + 1, width_ratios=[2.2] + [1] * MAX_MAPS)
    ax = figure.add_subplot(grid[0, 1:3])
    ax.imshow(image.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    _label(figure.add_subplot(grid[0, 0]), "input 28x28")
    for row, (layer, out) in enumerate(zip(network.layers, outputs, strict=True), start=1):
        shape = "x".join(map(str, out.shape))
        _label(figure.add_subplot(grid[row, 0]), f"{row - 1}: {layer.type_name} {shape}")
        if out.ndim == 3:  # (h, w, channels): the first feature maps
            for c in range(min(MAX_MAPS, out.shape[2])):
                ax = figure.add_subplot(grid[row, 1 + c])
                ax.imshow(out[:, :, c], cmap="magma", interpolation="nearest")
                ax.set_axis_off()
        else:
            ax = figure.add_subplot(grid[row, 1:])
            values = probabilities if row == len(outputs) else out
            colour = "tab:green" if row == len(outputs) else "tab:blue"
            ax.bar(np.arange(len(values)), values, width=1.0, color=colour)
            ax.set_xlim(-0.5, len(values) - 0.5)
            ax.tick_params(labelsize=6)
            if row == len(outputs):
                ax.set_xticks(range(len(values)), names[: len(values)])
                ax.set_ylim(0, 1)
                ax.set_ylabel("p", fontsize=7)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.03, top=0.93, hspace=0.6, wspace=0.15)
    return figure


def _label(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.0, 0.5, text, fontsize=8, va="center", ha="left", family="monospace")
