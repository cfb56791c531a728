"""What the network learned, drawn for a learner: the first layer's weights, and what every
layer makes of one test image.

- ``first_layer_figure``: a dense first layer's 784 input weights of each unit as a 28x28 tile
  (the "templates" it matches), or a first convolution's kernels, one tile per filter (the
  strokes and edges it looks for), a patch embedding's map of a patch to each token value, one
  tile per value, or a recurrent layer's input weights, one tile per gate (the pixels of a row
  down, the units across). Blue is negative, red positive, white zero, each tile on its own
  symmetric scale.
- ``activations_figure``: one image through the network, layer by layer in evaluation mode:
  feature maps of convolutional layers (the first channels) as small images, sequences (steps
  or tokens down, features across) as one image, flat layers as a bar of their values, the
  last as the class probabilities.
"""

import math
from collections.abc import Iterator

import numpy as np
from matplotlib.figure import Figure

import scratchnn as sn
from pipeline.data.catalog import MNIST, Dataset
from pipeline.figures import plots
from pipeline.figures.blocks import block_rows

IMAGE_SIDE = 28
MAX_TILES = 32  # units or filters drawn of the first layer
MAX_MAPS = 8  # feature maps drawn per convolutional layer


def in_order(layers: list[sn.Layer], name: str = "layers") -> Iterator[tuple[str, sn.Layer]]:
    """``(where, layer)`` of every layer as the data meets it, a container's own ``layers``
    included (``layers[3].layers[0]``), then the container itself (a residual block: the sum)."""
    for i, layer in enumerate(layers):
        where = f"{name}[{i}]"
        nested = getattr(layer, "layers", None)
        if isinstance(nested, list):
            yield from in_order(nested, f"{where}.layers")
        yield where, layer


def first_layer_weights(network: sn.Network) -> tuple[str, np.ndarray]:
    """``(kind, tiles)``: the first layer with weights, as (n, h, w) tiles (one per unit,
    filter, token value or gate, at most ``MAX_TILES``). A convolution's kernels and a patch
    embedding's maps are averaged over input channels."""
    for where, layer in in_order(network.layers):
        if isinstance(layer, sn.PatchEmbed):
            p, maps = layer.patch, np.asarray(layer.linear.W, dtype=np.float64)  # (p*p*c, dim)
            tiles = maps.reshape(p, p, layer.channels, -1).mean(axis=2).transpose(2, 0, 1)
            return f"{where}: patch_embed, each token value's {p}x{p} map", tiles[:MAX_TILES]
        if isinstance(layer, sn.LSTM | sn.GRU):
            weights = np.asarray(layer.W, dtype=np.float64)  # (features, gates * units)
            tiles = weights.reshape(layer.n_in, layer.gates, layer.units).transpose(1, 0, 2)
            return f"{where}: {layer.type_name} input weights, one tile per gate", tiles
        if isinstance(layer, sn.Conv2D):
            kernels = np.asarray(layer.W, dtype=np.float64)  # (k, k, c_in, filters)
            tiles = kernels.mean(axis=2).transpose(2, 0, 1)  # (filters, k, k)
            return f"{where}: conv2d kernels {layer.kernel}x{layer.kernel}", tiles[:MAX_TILES]
        if isinstance(layer, sn.Dense):
            weights = np.asarray(layer.W, dtype=np.float64)  # (n_in, units)
            side = math.isqrt(weights.shape[0])
            if side * side != weights.shape[0]:
                break
            tiles = weights.T.reshape(-1, side, side)  # (units, 28, 28)
            return f"{where}: dense, each unit's {weights.shape[0]} input weights", tiles[
                :MAX_TILES
            ]
    raise ValueError(
        "the network's first layer with weights is none of conv2d, dense, patch_embed, lstm, gru"
    )


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
    blocks = block_rows(network, image)  # attention heads, residual branches: none for an MLP
    logits = outputs[-1]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    rows = len(outputs) + 1 + len(blocks)
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
        elif out.ndim == 2:  # (steps or tokens, features): one image, a row per step
            ax = figure.add_subplot(grid[row, 1:])
            ax.imshow(out, cmap="magma", aspect="auto", interpolation="nearest")
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
    for row, (label, panels) in enumerate(blocks, start=len(outputs) + 1):
        _label(figure.add_subplot(grid[row, 0]), label)
        for c, (title, values) in enumerate(panels[:MAX_MAPS]):
            ax = figure.add_subplot(grid[row, 1 + c])
            ax.imshow(values, cmap="magma", interpolation="nearest", aspect="auto")
            ax.set_title(title, fontsize=7)
            ax.set_axis_off()
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.03, top=0.93, hspace=0.6, wspace=0.15)
    return figure


def _label(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.0, 0.5, text, fontsize=8, va="center", ha="left", family="monospace")
